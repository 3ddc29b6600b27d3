// TrainConfig's table: every field reads, checks and writes its member; the metadata round-trips;
// malformed or missing keys are refused by name; models written before the table still read.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "mnistnn/model_file.hpp"
#include "mnistnn/model_record.hpp"
#include "mnistnn/train_config.hpp"
#include "test_util.hpp"

namespace mnistnn {
namespace {

std::string fixture(const std::string& name) { return test::legacy_fixture(name); }

TrainConfig adam_step_config() {
    TrainConfig c;
    c.hidden = 32;
    c.activation = Activation::Sigmoid;
    c.init = Init::He;
    c.seed = 18446744073709551615ULL;
    c.data_path = "/data/train.csv";
    c.holdout = 500;
    c.data_rows = 42000;
    c.data_fingerprint = "fnv1a64:0123456789abcdef";
    c.batch_size = 128;
    c.alpha = 0.003;
    c.optimizer.kind = OptimizerKind::Adam;
    c.optimizer.beta1 = 0.85;
    c.optimizer.beta2 = 0.995;
    c.optimizer.eps = 1e-7;
    c.optimizer.l2 = 1e-4;
    c.lr_decay = LrDecay::Step;
    c.lr_step_every = 300;
    c.lr_step_gamma = 0.5;
    c.lr_total_steps = 4000;
    c.labels_path = "/data/labels.idx";
    return c;
}

TEST(TrainConfig, EveryFieldIsComplete) {
    std::set<std::string> names, keys;
    for (const ConfigField& f : train_config_fields()) {
        EXPECT_TRUE(names.insert(f.name).second) << "duplicate name " << f.name;
        EXPECT_TRUE(keys.insert(f.key).second) << "duplicate key " << f.key;
        EXPECT_TRUE(f.get && f.check && f.set) << f.name;
        EXPECT_FALSE(f.help.empty()) << f.name;
        EXPECT_EQ(f.help.find("--"), std::string::npos) << f.name << ": library help names no flag";
        if (!f.when.empty()) {
            EXPECT_NO_THROW(train_config_field(f.when)) << f.name;
        }
        // set(get(x)) leaves x as it is, for a configuration where every value is set.
        const TrainConfig c = adam_step_config();
        TrainConfig copy;
        ASSERT_EQ(f.check(f.get(c)), "") << f.name;
        f.set(copy, f.get(c));
        EXPECT_EQ(f.get(copy), f.get(c)) << f.name;
    }
    EXPECT_THROW(train_config_field("no_such_setting"), std::out_of_range);
}

TEST(TrainConfig, MetadataRoundTripsEveryRecordedField) {
    const TrainConfig c = adam_step_config();
    const auto metadata = config_metadata(c);
    EXPECT_EQ(metadata.at("alpha"), "0.003");
    EXPECT_EQ(metadata.at("seed"), "18446744073709551615");
    EXPECT_EQ(metadata.at("optimizer"), "adam");
    EXPECT_EQ(metadata.at("lr_step_gamma"), "0.5");
    EXPECT_EQ(metadata.count("momentum"), 0u) << "momentum does not apply to adam";
    EXPECT_EQ(metadata.count("lr_total_steps"), 0u) << "only cosine records its horizon";
    EXPECT_EQ(metadata.count("hidden"), 0u) << "the tensors hold the architecture";
    TrainConfig unlabelled = c;
    unlabelled.labels_path.clear();
    EXPECT_EQ(config_metadata(unlabelled).count("labels_path"), 0u) << "no label file: no key";
    const TrainConfig back = config_from_metadata(metadata);
    for (const ConfigField& f : train_config_fields())
        if (f.recorded && f.applies(c)) {
            EXPECT_EQ(f.get(back), f.get(c)) << f.name;
        }
}

TEST(TrainConfig, MissingOrMalformedKeysAreRefusedByName) {
    const auto good = config_metadata(adam_step_config());
    for (const char* key : {"seed", "holdout", "data_path", "data_rows", "data_fingerprint"}) {
        auto m = good;
        m.erase(key);
        try {
            config_from_metadata(m);
            ADD_FAILURE() << key << " missing was accepted";
        } catch (const ModelFormatError& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("no '") + key + "'"), std::string::npos) << e.what();
        }
    }
    const std::pair<const char*, const char*> bad[] = {
        {"alpha", "fast"}, {"alpha", "-1"}, {"seed", "-3"}, {"optimizer", "sgd"}, {"beta1", "1.5"},
        {"lr_step_every", "0"}, {"batch_size", "12x"}, {"holdout", "1e3"}, {"init", ""},
    };
    for (const auto& [key, value] : bad) {
        auto m = good;
        m[key] = value;
        try {
            config_from_metadata(m);
            ADD_FAILURE() << key << "=" << value << " was accepted";
        } catch (const ModelFormatError& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("'") + key + "'"), std::string::npos) << e.what();
        }
    }
    // Keys added after the first models may be absent: their defaults are used.
    auto old = good;
    for (const char* key : {"optimizer", "beta1", "beta2", "eps", "l2", "batch_size", "lr_decay", "lr_step_every",
                            "lr_step_gamma", "init", "alpha"})
        old.erase(key);
    const TrainConfig c = config_from_metadata(old);
    EXPECT_EQ(c.optimizer.kind, OptimizerKind::GD);
    EXPECT_EQ(c.batch_size, 0u);
    EXPECT_EQ(c.alpha, 0.1);
}

TEST(TrainConfig, FieldChecksSayWhatIsExpected) {
    EXPECT_EQ(train_config_field("alpha").check("0"), "must be a finite number > 0, got 0");
    EXPECT_EQ(train_config_field("alpha").check("x"), "'x' is not a number");
    EXPECT_NE(train_config_field("alpha").check("1e999").find("out of range"), std::string::npos);
    EXPECT_EQ(train_config_field("momentum").check("1"), "must be in [0, 1), got 1");
    EXPECT_EQ(train_config_field("optimizer").check("sgd"), "must be one of gd, momentum, adam, got 'sgd'");
    EXPECT_EQ(train_config_field("seed").check("-1"), "must be a whole number >= 0, got -1");
    EXPECT_EQ(train_config_field("hidden").check("0"), "must be a whole number from 1 to 4096, got 0");
    EXPECT_EQ(train_config_field("lr_step_gamma").check("0.5"), "");
    TrainConfig c;
    try {
        train_config_field("l2").set(c, "-1");
        ADD_FAILURE();
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.settings(), std::vector<std::string>{"l2"});
        EXPECT_STREQ(e.what(), "l2: must be a finite number >= 0, got -1");
        EXPECT_EQ(e.describe([](const std::string& n) { return "--" + n; }), "--l2: must be a finite number >= 0, got -1");
    }
}

TEST(TrainConfig, ConditionsAndCrossFieldValidation) {
    TrainConfig c;
    EXPECT_FALSE(train_config_field("momentum").applies(c));
    c.optimizer.kind = OptimizerKind::Momentum;
    EXPECT_TRUE(train_config_field("momentum").applies(c));
    EXPECT_FALSE(train_config_field("beta1").applies(c));
    EXPECT_TRUE(train_config_field("alpha").applies(c));
    c.lr_decay = LrDecay::Step;
    try {
        validate(c);
        ADD_FAILURE() << "step decay without lr_step_every";
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.settings(), (std::vector<std::string>{"lr_decay", "lr_step_every"}));
        EXPECT_STREQ(e.what(), "lr_decay step needs lr_step_every N (the steps between decays)");
    }
    c.lr_step_every = 10;
    EXPECT_NO_THROW(validate(c));
}

TEST(ModelRecord, ModelsWrittenBeforeTheTableReadBack) {
    // Written by the commit before the table (9c7cd5f): adam, mini-batch, cosine; momentum, step, sigmoid.
    const Model adam = load_model(fixture("adam.safetensors"));
    const TrainConfig a = config_from_model(adam);
    EXPECT_EQ(a.hidden, 16);
    EXPECT_EQ(a.init, Init::He);
    EXPECT_EQ(a.optimizer.kind, OptimizerKind::Adam);
    EXPECT_EQ(a.batch_size, 32u);
    EXPECT_EQ(a.alpha, 0.005);
    EXPECT_EQ(a.lr_decay, LrDecay::Cosine);
    EXPECT_EQ(a.lr_total_steps, 10);
    EXPECT_EQ(a.holdout, 20u);
    EXPECT_EQ(a.data_rows, 120u);
    const TrainingRecord r = record_from_model(adam);
    EXPECT_EQ(r.steps, 10);
    EXPECT_EQ(r.planned_steps, 10);
    EXPECT_EQ(r.created_by, "mnistnn 0.1.0");

    const TrainConfig m = config_from_model(load_model(fixture("momentum.safetensors")));
    EXPECT_EQ(m.activation, Activation::Sigmoid);
    EXPECT_EQ(m.optimizer.kind, OptimizerKind::Momentum);
    EXPECT_EQ(m.optimizer.momentum, 0.8);
    EXPECT_EQ(m.optimizer.l2, 0.001);
    EXPECT_EQ(m.lr_step_every, 3);
    EXPECT_EQ(m.lr_step_gamma, 0.5);
}

TEST(ModelRecord, MakeModelWritesTheSameKeysAsBefore) {
    // The metadata keys of a model written before the table, less the run's own figures.
    const Model legacy = load_model(fixture("adam.safetensors"));
    TrainConfig c = config_from_model(legacy);
    const Model made = make_model(legacy.params, c, record_from_model(legacy), {});
    for (const auto& [key, value] : legacy.metadata) {
        if (key == "format" || key == "format_version" || key == "activation" || key == "hidden") continue;
        ASSERT_EQ(made.metadata.count(key), 1u) << key;
        EXPECT_EQ(made.metadata.at(key), value) << key;
    }
    EXPECT_EQ(made.metadata.size() + 4, legacy.metadata.size());
}

}  // namespace
}  // namespace mnistnn

namespace mnistnn {
namespace {

TEST(TrainConfigRegularization, RecordedOnlyWhenUsedAndReadBack) {
    TrainConfig c;
    const auto plain = config_metadata(c);
    for (const char* key : {"dropout", "label_smoothing", "augment", "rotate", "elastic_sigma"})
        EXPECT_EQ(plain.count(key), 0u) << key;
    c.batch_size = 32;
    c.dropout = 0.25;
    c.augment.kind = AugmentKind::Elastic;
    c.augment.elastic_sigma = 5.0;
    const auto used = config_metadata(c);
    EXPECT_EQ(used.at("dropout"), "0.25");
    EXPECT_EQ(used.at("augment"), "elastic");
    EXPECT_EQ(used.at("elastic_sigma"), "5");
    EXPECT_EQ(used.at("rotate"), "10");
    EXPECT_EQ(used.count("label_smoothing"), 0u);
    std::map<std::string, std::string> metadata = used;
    metadata["seed"] = "0";
    metadata["data_path"] = "x.csv";
    metadata["holdout"] = "10";
    metadata["data_rows"] = "100";
    metadata["data_fingerprint"] = "fnv1a64:0";
    const TrainConfig back = config_from_metadata(metadata);
    EXPECT_EQ(back.dropout, 0.25);
    EXPECT_EQ(back.augment.kind, AugmentKind::Elastic);
    EXPECT_EQ(back.augment.elastic_sigma, 5.0);
    c.batch_size = 0;
    EXPECT_THROW(validate(c), ConfigError);  // augmentation needs mini-batches
}

}  // namespace
}  // namespace mnistnn
