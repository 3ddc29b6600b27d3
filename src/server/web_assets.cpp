// The drawing page's files, embedded from web/ by cmake/embed_files.cmake.
#include "mnistnn/server.hpp"
#include "web_assets.hpp"

namespace mnistnn {

const std::vector<WebAsset>& web_assets() {
    static const std::vector<WebAsset> assets = [] {
        std::vector<WebAsset> list;
        for (const embedded::File& f : embedded::kEmbeddedFiles) {
            list.push_back({f.path, f.content_type, std::string_view(f.data, f.size)});
        }
        return list;
    }();
    return assets;
}

}  // namespace mnistnn
