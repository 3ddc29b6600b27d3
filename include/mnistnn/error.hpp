#pragma once
// Error hierarchy of the mnistnn library. The library throws these; only the
// CLI's main() catches them and turns them into a message and an exit code.
#include <stdexcept>
#include <string>

namespace mnistnn {

// Base of every error the library throws on purpose.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A file could not be opened, read or written (missing, permission, directory, disk full).
class IoError : public Error {
public:
    using Error::Error;
};

// A data file (CSV or IDX) is malformed. The message names file, line and column where known.
class DataFormatError : public Error {
public:
    using Error::Error;
};

// A model file is malformed, truncated, or not an mnistnn model.
class ModelFormatError : public Error {
public:
    using Error::Error;
};

// Arguments are consistent individually but not together (e.g. holdout >= rows).
class UsageError : public Error {
public:
    using Error::Error;
};

// Training produced a non-finite loss.
class DivergenceError : public Error {
public:
    using Error::Error;
};

// The model's recorded data fingerprint does not match the data file given.
class MismatchError : public Error {
public:
    using Error::Error;
};

// Training was stopped by a signal (SIGINT/SIGTERM).
class InterruptedError : public Error {
public:
    using Error::Error;
};

}  // namespace mnistnn
