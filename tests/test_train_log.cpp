#include "mnistnn/train_log.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/trainer.hpp"
#include "test_util.hpp"

namespace {

using mnistnn::TrainLogEntry;
using mnistnn::test::read_text;
using mnistnn::test::TempDir;
using mnistnn::test::write_text;

TrainLogEntry entry(std::int64_t step, double epoch, double seconds, double loss, double accuracy) {
    TrainLogEntry e;
    e.iteration = step;
    e.epoch = epoch;
    e.seconds = seconds;
    e.loss = loss;
    e.train_accuracy = accuracy;
    e.learning_rate = 0.5;  // not a column
    return e;
}

TrainLogEntry with_holdout(TrainLogEntry e, double accuracy, double loss) {
    e.has_holdout = true;
    e.holdout_accuracy = accuracy;
    e.holdout_loss = loss;
    return e;
}

TEST(TrainLog, ColumnListAndHeader) {
    EXPECT_EQ(mnistnn::train_log_header(), "step,epoch,seconds,loss,train_accuracy,holdout_accuracy,holdout_loss");
    std::string required;
    for (const auto& column : mnistnn::kTrainLogColumns) {
        if (column.required) required += std::string(column.name) + ";";
    }
    EXPECT_EQ(required, "step;loss;train_accuracy;");
    EXPECT_STREQ(mnistnn::kTrainLogColumns[static_cast<std::size_t>(mnistnn::TrainLogField::HoldoutLoss)].name,
                 "holdout_loss");
}

// The bytes `train --log-csv` has always written: shortest round-trip numbers, the step as an
// integer, both held-out fields empty without a held-out split.
TEST(TrainLog, WriterFormatIsFrozen) {
    TempDir dir;
    const std::string path = dir.file("log.csv");
    mnistnn::write_train_log_csv(
        path, {with_holdout(entry(0, 0, 0.125, 2.302585, 0.1), 0.098, 2.31), entry(100, 1.5, 1.5, 0.5, 0.875),
               with_holdout(entry(123456789012, 1e-8, 3, 1e+30, 1), 1, 0)});
    EXPECT_EQ(read_text(path),
              "step,epoch,seconds,loss,train_accuracy,holdout_accuracy,holdout_loss\n"
              "0,0,0.125,2.302585,0.1,0.098,2.31\n"
              "100,1.5,1.5,0.5,0.875,,\n"
              "123456789012,1e-08,3,1e+30,1,1,0\n");
}

TEST(TrainLog, NoEntriesIsTheHeaderAlone) {
    TempDir dir;
    mnistnn::write_train_log_csv(dir.file("log.csv"), {});
    EXPECT_EQ(read_text(dir.file("log.csv")), mnistnn::train_log_header() + "\n");
}

TEST(TrainLog, ReaderReadsBackWhatTheWriterWrote) {
    TempDir dir;
    const std::string path = dir.file("log.csv");
    std::vector<TrainLogEntry> entries;
    for (int i = 0; i < 5; ++i) {
        TrainLogEntry e = entry(i * 10, i / 3.0, i * 0.1, 2.0 / (i + 1), 0.1 + i / 7.0);
        entries.push_back(i % 2 == 0 ? with_holdout(e, 0.05 + i / 9.0, 2.5 / (i + 1)) : e);
    }
    mnistnn::write_train_log_csv(path, entries);
    const mnistnn::LearningCurves c = mnistnn::read_learning_curves(path);
    EXPECT_EQ(c.rows, 5u);
    ASSERT_EQ(c.train_loss.size(), 5u);
    ASSERT_EQ(c.train_accuracy.size(), 5u);
    ASSERT_EQ(c.holdout_accuracy.size(), 3u);
    ASSERT_EQ(c.holdout_loss.size(), 3u);
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(c.train_loss[i].step, static_cast<double>(entries[i].iteration));
        EXPECT_EQ(c.train_loss[i].value, entries[i].loss);  // exact: shortest round-trip text
        EXPECT_EQ(c.train_accuracy[i].value, entries[i].train_accuracy);
    }
    for (std::size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(c.holdout_accuracy[k].step, static_cast<double>(entries[2 * k].iteration));
        EXPECT_EQ(c.holdout_accuracy[k].value, entries[2 * k].holdout_accuracy);
        EXPECT_EQ(c.holdout_loss[k].value, entries[2 * k].holdout_loss);
    }
}

TEST(TrainLog, UnwritableFolderIsAnIoErrorAndKeepsTheOldFile) {
    TempDir dir;
    const std::string missing = dir.file("no-such-folder/log.csv");
    try {
        mnistnn::write_train_log_csv(missing, {entry(0, 0, 0, 1, 0.5)});
        FAIL() << "expected IoError";
    } catch (const mnistnn::IoError& e) {
        EXPECT_NE(std::string(e.what()).find("no-such-folder"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("no-such-folder")));

    // A directory where the log should go: refused, and it stays a directory.
    const std::string taken = dir.file("taken");
    std::filesystem::create_directory(taken);
    write_text(taken + "/keep", "x");
    EXPECT_THROW(mnistnn::write_train_log_csv(taken, {entry(0, 0, 0, 1, 0.5)}), mnistnn::IoError);
    EXPECT_EQ(read_text(taken + "/keep"), "x");
}

TEST(TrainLog, ReplacesAnExistingLogWhole) {
    TempDir dir;
    const std::string path = dir.file("log.csv");
    write_text(path, std::string(10000, 'x'));
    mnistnn::write_train_log_csv(path, {entry(7, 7, 0.5, 1, 0.5)});
    EXPECT_EQ(read_text(path), mnistnn::train_log_header() + "\n7,7,0.5,1,0.5,,\n");
}

}  // namespace
