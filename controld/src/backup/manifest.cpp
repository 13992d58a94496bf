// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/backup/manifest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "levqor/controld/core/files.h"
#include "levqor/controld/core/json.h"
#include "levqor/controld/core/unique_fd.h"
#include "levqor/hex.h"

namespace levqor::controld::backup {
namespace {

using Json = nlohmann::json;

[[noreturn]] void bad(const std::string& where, const std::string& expected) {
    throw ManifestError("manifest: " + where + ": expected " + expected);
}

const Json& field(const Json& object, const std::string& where, const char* key) {
    auto it = object.find(key);
    if (it == object.end()) throw ManifestError("manifest: " + where + key + ": missing");
    return *it;
}

std::string text_of(const Json& object, const std::string& where, const char* key) {
    const Json& value = field(object, where, key);
    if (!value.is_string()) bad(where + key, "a string");
    return value.get<std::string>();
}

std::uint64_t unsigned_of(const Json& value, const std::string& where) {
    if (!value.is_number_unsigned()) bad(where, "an unsigned integer");
    return value.get<std::uint64_t>();
}

std::int64_t time_of(const Json& value, const std::string& where) {
    if (!value.is_string()) bad(where, "an RFC 3339 UTC time such as 2026-11-29T10:52:07Z");
    auto parsed = parse_utc(value.get<std::string>());
    if (!parsed) bad(where, "an RFC 3339 UTC time such as 2026-11-29T10:52:07Z");
    return *parsed;
}

bool is_sha256_hex(const std::string& text) {
    if (text.size() != 64) return false;
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

// A file of the backup is named relative to its folder; a manifest pointing
// elsewhere (an absolute path, "..") would make check_files read any file.
bool is_plain_file_name(const std::string& path) {
    return !path.empty() && path != "." && path != ".." && path.find('/') == std::string::npos &&
           path.find('\0') == std::string::npos;
}

struct EvpMdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

std::string_view to_string(BackupStatus status) {
    switch (status) {
        case BackupStatus::running:
            return "running";
        case BackupStatus::verified:
            return "verified";
        case BackupStatus::failed:
            return "failed";
        case BackupStatus::corrupt:
            return "corrupt";
    }
    return "failed";
}

std::optional<BackupStatus> parse_backup_status(std::string_view text) {
    for (auto status : {BackupStatus::running, BackupStatus::verified, BackupStatus::failed, BackupStatus::corrupt}) {
        if (text == to_string(status)) return status;
    }
    return std::nullopt;
}

std::string format_utc(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::optional<std::int64_t> parse_utc(std::string_view text) {
    // Exactly YYYY-MM-DDTHH:MM:SSZ, the form format_utc writes.
    if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
        text[16] != ':' || text[19] != 'Z') {
        return std::nullopt;
    }
    auto number = [&](std::size_t at, std::size_t n) -> int {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (text[i] < '0' || text[i] > '9') return -1;
            v = v * 10 + (text[i] - '0');
        }
        return v;
    };
    std::tm tm{};
    const int year = number(0, 4), month = number(5, 2), day = number(8, 2);
    const int hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
        minute > 59 || second < 0 || second > 59) {
        return std::nullopt;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const std::time_t t = ::timegm(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    if (format_utc(t) != text) return std::nullopt;  // 2026-02-31 would be normalised: refused
    return static_cast<std::int64_t>(t);
}

Json to_json(const Manifest& m) {
    Json files = Json::array();
    for (const auto& f : m.files) {
        files.push_back({{"name", f.name}, {"path", f.path}, {"bytes", f.bytes}, {"sha256", f.sha256}});
    }
    Json parity = Json::object();
    for (const auto& [table, p] : m.parity) parity[table] = {{"rows", p.rows}, {"digest", p.digest}};
    Json verify = nullptr;
    if (m.verify) {
        verify = {{"ok", m.verify->ok},
                  {"checked_at", format_utc(m.verify->checked_at)},
                  {"restore_seconds", m.verify->restore_seconds},
                  {"error", m.verify->error.empty() ? Json(nullptr) : Json(m.verify->error)}};
    }
    Json timings = Json::object();
    for (const auto& [phase, seconds] : m.timings) timings[phase] = seconds;
    return {{"id", m.id},
            {"target", m.target},
            {"kind", m.kind},
            {"started_at", format_utc(m.started_at)},
            {"finished_at", m.finished_at ? Json(format_utc(*m.finished_at)) : Json(nullptr)},
            {"status", std::string(to_string(m.status))},
            {"files", files},
            {"parity", parity},
            {"verify", verify},
            {"encrypted", m.encrypted},
            {"server_version", m.server_version},
            {"tool_version", m.tool_version},
            {"levqor_version", m.levqor_version},
            {"timings", timings}};
}

Manifest manifest_from_json(const Json& j) {
    if (!j.is_object()) bad("document", "an object");
    Manifest m;
    m.id = text_of(j, "", "id");
    // Both name folders (<dir>/<target>/<id>/): a manifest naming another place is refused.
    if (!is_plain_file_name(m.id)) bad("id", "a name without '/' (it names the backup's folder)");
    m.target = text_of(j, "", "target");
    if (!is_plain_file_name(m.target)) bad("target", "a name without '/' (it names the target's folder)");
    m.kind = text_of(j, "", "kind");
    m.started_at = time_of(field(j, "", "started_at"), "started_at");
    const Json& finished = field(j, "", "finished_at");
    if (!finished.is_null()) m.finished_at = time_of(finished, "finished_at");
    auto status = parse_backup_status(text_of(j, "", "status"));
    if (!status) bad("status", "running, verified, failed or corrupt");
    m.status = *status;

    const Json& files = field(j, "", "files");
    if (!files.is_array()) bad("files", "an array");
    for (std::size_t i = 0; i < files.size(); ++i) {
        const std::string where = "files[" + std::to_string(i) + "].";
        const Json& f = files[i];
        if (!f.is_object()) bad("files[" + std::to_string(i) + "]", "an object");
        ManifestFile file;
        file.name = text_of(f, where, "name");
        file.path = text_of(f, where, "path");
        if (!is_plain_file_name(file.path)) bad(where + "path", "a file name inside the backup's folder");
        file.bytes = unsigned_of(field(f, where, "bytes"), where + "bytes");
        file.sha256 = text_of(f, where, "sha256");
        if (!is_sha256_hex(file.sha256)) bad(where + "sha256", "64 lowercase hex digits");
        m.files.push_back(std::move(file));
    }

    const Json& parity = field(j, "", "parity");
    if (!parity.is_object()) bad("parity", "an object");
    for (auto it = parity.begin(); it != parity.end(); ++it) {
        const std::string where = "parity[\"" + it.key() + "\"].";
        if (!it->is_object()) bad("parity[\"" + it.key() + "\"]", "an object");
        TableParity p;
        p.rows = unsigned_of(field(*it, where, "rows"), where + "rows");
        p.digest = text_of(*it, where, "digest");
        m.parity.emplace(it.key(), std::move(p));
    }

    const Json& verify = field(j, "", "verify");
    if (!verify.is_null()) {
        if (!verify.is_object()) bad("verify", "an object or null");
        VerifyResult v;
        const Json& ok = field(verify, "verify.", "ok");
        if (!ok.is_boolean()) bad("verify.ok", "true or false");
        v.ok = ok.get<bool>();
        v.checked_at = time_of(field(verify, "verify.", "checked_at"), "verify.checked_at");
        const Json& seconds = field(verify, "verify.", "restore_seconds");
        if (!seconds.is_number() || seconds.get<double>() < 0) bad("verify.restore_seconds", "a number >= 0");
        v.restore_seconds = seconds.get<double>();
        const Json& error = field(verify, "verify.", "error");
        if (!error.is_null() && !error.is_string()) bad("verify.error", "a string or null");
        if (error.is_string()) v.error = error.get<std::string>();
        m.verify = std::move(v);
    }

    // Optional: a manifest written before these existed still reads.
    if (auto it = j.find("encrypted"); it != j.end()) {
        if (!it->is_boolean()) bad("encrypted", "true or false");
        m.encrypted = it->get<bool>();
    }
    for (const char* key : {"server_version", "tool_version", "levqor_version"}) {
        if (j.contains(key)) {
            std::string value = text_of(j, "", key);
            if (std::strcmp(key, "server_version") == 0) m.server_version = std::move(value);
            if (std::strcmp(key, "tool_version") == 0) m.tool_version = std::move(value);
            if (std::strcmp(key, "levqor_version") == 0) m.levqor_version = std::move(value);
        }
    }
    if (auto it = j.find("timings"); it != j.end()) {
        if (!it->is_object()) bad("timings", "an object");
        for (auto t = it->begin(); t != it->end(); ++t) {
            if (!t->is_number()) bad("timings." + t.key(), "a number of seconds");
            m.timings[t.key()] = t->get<double>();
        }
    }
    return m;
}

Manifest parse_manifest(std::string_view text) {
    Json json;
    try {
        json = parse_json(text, JsonLimits{kMaxManifestBytes});
    } catch (const JsonError& e) {
        throw ManifestError(std::string("manifest: ") + e.what());
    }
    return manifest_from_json(json);
}

void write_manifest(const std::string& folder, const Manifest& manifest) {
    // A SQLite table name need not be UTF-8: such bytes are written as U+FFFD
    // rather than failing the backup (that table's parity then reads back
    // under the replaced name).
    write_file_atomically(folder + "/manifest.json",
                          to_json(manifest).dump(2, ' ', false, Json::error_handler_t::replace) + "\n", 0600);
}

Manifest read_manifest(const std::string& folder) {
    const std::string path = folder + "/manifest.json";
    auto text = read_file_if_exists(path);
    if (!text) throw FileError("cannot read " + path + ": No such file or directory");
    try {
        return parse_manifest(*text);
    } catch (const ManifestError& e) {
        throw ManifestError(path + ": " + e.what());
    }
}

FileDigest sha256_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) throw FileError("cannot read " + path + ": open: " + std::strerror(errno));
    std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
        throw FileError("cannot hash " + path + ": OpenSSL SHA-256 unavailable");
    }
    std::vector<unsigned char> buf(1 << 20);
    FileDigest out;
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw FileError("cannot read " + path + ": read: " + std::strerror(errno));
        }
        if (n == 0) break;
        EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
        out.bytes += static_cast<std::uint64_t>(n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), md, &len);
    out.sha256.resize(2 * len);
    hex_into(out.sha256.data(), md, len);
    return out;
}

std::vector<std::string> check_files(const std::string& folder, const Manifest& manifest) {
    std::vector<std::string> problems;
    for (const auto& f : manifest.files) {
        if (!is_plain_file_name(f.path)) {
            problems.push_back(f.path + ": not a file name inside the backup's folder");
            continue;
        }
        FileDigest found;
        try {
            found = sha256_file(folder + "/" + f.path);
        } catch (const FileError& e) {
            problems.push_back(f.path + ": " + e.what());
            continue;
        }
        if (found.bytes != f.bytes) {
            problems.push_back(f.path + ": size differs (expected " + std::to_string(f.bytes) + " bytes, found " +
                               std::to_string(found.bytes) + ")");
        } else if (found.sha256 != f.sha256) {
            problems.push_back(f.path + ": sha256 differs (expected " + f.sha256 + ", found " + found.sha256 + ")");
        }
    }
    return problems;
}

}  // namespace levqor::controld::backup
