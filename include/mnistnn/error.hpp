#pragma once
// Error hierarchy of the mnistnn library. The library throws these; only the
// CLI's main() catches them and turns them into a message and an exit code.
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mnistnn {

// Base of every error the library throws on purpose.
//
// A message may be about training settings: then it is built from a pattern in which "{0}",
// "{1}", … stand for settings[0], settings[1], … (keys of TrainConfig's table, e.g. "alpha").
// what() shows the keys as they are; describe() lets a front end name them its own way (the CLI
// says "--alpha"), so the library never needs to know a command-line flag.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message), pattern_(message) {}
    Error(std::vector<std::string> settings, const std::string& pattern);

    const std::vector<std::string>& settings() const { return settings_; }
    // The message with each {i} replaced by name(settings[i]).
    std::string describe(const std::function<std::string(const std::string&)>& name) const;

private:
    std::vector<std::string> settings_;
    std::string pattern_;
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
