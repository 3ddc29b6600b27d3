#pragma once
// Loading digit sets from Kaggle-format CSV (plain or gzip) and IDX files, and writing CSV.
#include <iosfwd>
#include <string>

#include "mnistnn/images.hpp"

namespace mnistnn {

// Reads a Kaggle "Digit Recognizer" CSV: header `label,pixel0,…,pixel783` (labelled) or
// `pixel0,…,pixel783` (unlabelled). Accepts LF and CRLF line ends, a UTF-8 BOM, a missing
// final newline, and gzip-compressed content (detected by magic bytes, not by name).
// Throws IoError if it cannot read the file and DataFormatError (naming file, line, column,
// what was expected and what was found) for any malformed content.
Images load_csv(const std::string& path);

// Reads IDX files: images (magic 0x00000803, n×28×28 uint8) and optionally labels
// (magic 0x00000801, n uint8 in 0..9); each raw or gzip. labels_path may be empty.
Images load_idx(const std::string& images_path, const std::string& labels_path);

// What load_images takes a data file for, from its first four bytes (after gzip decompression):
// an IDX image or label file by its magic, anything else CSV. Throws as the loaders do for a
// file it cannot read (IoError) or corrupt gzip data (DataFormatError).
enum class DataFileKind { Csv, IdxImages, IdxLabels };
DataFileKind data_file_kind(const std::string& path);

// Loads a data set whatever its format (see data_file_kind): IDX images (labels_path names the
// IDX label file, may be empty; then the result has no labels), or CSV (labels_path must be empty).
Images load_images(const std::string& path, const std::string& labels_path = "");

// Writes CSV in Kaggle's layout (with the label column when images has labels), LF line ends.
void write_csv(const Images& images, std::ostream& out);

}  // namespace mnistnn
