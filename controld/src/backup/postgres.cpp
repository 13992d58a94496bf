// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/backup/postgres.h"

#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "levqor/controld/core/elapsed.h"
#include "levqor/controld/queue/exec_runner.h"
#include "levqor/controld/tracking/scrubber.h"
#include "levqor/url_credentials.h"

namespace levqor::controld::backup {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxMessage = 4000;  // of a child's stderr or a libpq message, kept in an error
constexpr int kMinServerVersion = 110000;  // hashtextextended()
constexpr const char* kLargeObjects = "pg_catalog.pg_largeobject";

// Takes the password (a literal secret) and URL credentials out of a message,
// and bounds it.
class Redactor {
public:
    explicit Redactor(const std::string& password)
        : scrubber_(password.empty() ? std::vector<std::string>{} : std::vector<std::string>{password}, {}) {}

    std::string operator()(std::string_view text) const {
        std::string out = scrubber_.scrub(mask_url_credentials(text));
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        if (out.size() > kMaxMessage) out = "..." + out.substr(out.size() - kMaxMessage);
        return out;
    }

private:
    tracking::Scrubber scrubber_;
};

// The target's connection parameters, parsed once by libpq (URL or
// key=value), without the ones left unset.
struct ConnParams {
    std::vector<std::pair<std::string, std::string>> options;
    std::string password;

    std::string get(const std::string& key) const {
        for (const auto& [k, v] : options) {
            if (k == key) return v;
        }
        return {};
    }

    // A short description for messages: host:port/dbname (no credentials).
    std::string where() const {
        const auto host = get("host").empty() ? get("hostaddr") : get("host");
        return (host.empty() ? "localhost" : host) + ":" + (get("port").empty() ? "5432" : get("port")) + "/" +
               get("dbname");
    }
};

ConnParams parse_conninfo(const std::string& url) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
    if (opts == nullptr) {
        std::string why = err != nullptr ? err : "out of memory";
        PQfreemem(err);
        // libpq may echo part of the text: the whole URL is masked below too.
        throw PostgresError("invalid PostgreSQL connection string " + mask_url(url) + ": " +
                            Redactor(std::string())(why));
    }
    ConnParams params;
    for (auto* o = opts; o->keyword != nullptr; ++o) {
        if (o->val == nullptr || *o->val == '\0') continue;
        if (std::strcmp(o->keyword, "password") == 0) params.password = o->val;
        params.options.emplace_back(o->keyword, o->val);
    }
    PQconninfoFree(opts);
    return params;
}

// One key='value' of a conninfo (libpq's quoting: \ and ' escaped).
std::string conninfo_pair(const std::string& key, const std::string& value) {
    std::string out = key + "='";
    for (char c : value) {
        if (c == '\\' || c == '\'') out += '\\';
        out += c;
    }
    return out + "'";
}

// key='value' conninfo without the password, dbname replaced when given: for
// pg_dump's and pg_restore's argv.
std::string conninfo_without_password(const ConnParams& params, const std::string& dbname) {
    std::string out;
    for (const auto& [key, value] : params.options) {
        if (key == "password" || (key == "dbname" && !dbname.empty())) continue;
        out += conninfo_pair(key, value) + " ";
    }
    if (!dbname.empty()) out += conninfo_pair("dbname", dbname);
    if (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

struct PgConnDeleter {
    void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, PgConnDeleter>;
using Result = std::unique_ptr<PGresult, PgResultDeleter>;

Conn connect(const ConnParams& params, const PostgresOptions& options, const std::string& dbname = {}) {
    std::vector<std::string> keys;
    std::vector<std::string> values;
    for (const auto& [k, v] : params.options) {
        if (k == "dbname" && !dbname.empty()) continue;
        if (k == "connect_timeout" || k == "application_name") continue;
        keys.push_back(k);
        values.push_back(v);
    }
    if (!dbname.empty()) {
        keys.emplace_back("dbname");
        values.push_back(dbname);
    }
    keys.emplace_back("connect_timeout");
    values.push_back(std::to_string(options.connect_timeout_seconds));
    keys.emplace_back("application_name");
    values.emplace_back("levqor-backup");
    std::vector<const char*> k;
    std::vector<const char*> v;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        k.push_back(keys[i].c_str());
        v.push_back(values[i].c_str());
    }
    k.push_back(nullptr);
    v.push_back(nullptr);
    Conn conn(PQconnectdbParams(k.data(), v.data(), /*expand_dbname=*/0));
    if (!conn) throw PostgresError("cannot connect to PostgreSQL: out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        auto where = params.where();
        if (!dbname.empty()) where = where.substr(0, where.rfind('/') + 1) + dbname;
        // Redacted whole: a database or host name may hold the password too.
        throw PostgresError(
            Redactor(params.password)("cannot connect to PostgreSQL " + where + ": " + PQerrorMessage(conn.get())));
    }
    // Server notices (DROP ... IF EXISTS) would go to stderr: nothing in them is needed.
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);
    return conn;
}

Result exec(PGconn* conn, const std::string& sql, const Redactor& redact) {
    Result res(PQexec(conn, sql.c_str()));
    const auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        throw PostgresError(redact(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn)));
    }
    return res;
}

std::string quote_ident(PGconn* conn, const std::string& name) {
    char* q = PQescapeIdentifier(conn, name.data(), name.size());
    if (q == nullptr) throw PostgresError("cannot quote identifier: " + std::string(PQerrorMessage(conn)));
    std::string out(q);
    PQfreemem(q);
    return out;
}

std::string quote_literal(PGconn* conn, const std::string& value) {
    char* q = PQescapeLiteral(conn, value.data(), value.size());
    if (q == nullptr) throw PostgresError("cannot quote literal: " + std::string(PQerrorMessage(conn)));
    std::string out(q);
    PQfreemem(q);
    return out;
}

// The output settings every row's text depends on, the same on both sides
// whatever the server's or the role's defaults; a parity query may take as
// long as a pg_dump run (the role's statement_timeout does not apply), and
// no longer.
void fixed_output_settings(PGconn* conn, const PostgresOptions& options, const Redactor& redact) {
    const auto timeout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout).count();
    exec(conn,
         "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres';"
         " SET extra_float_digits = 1; SET bytea_output = 'hex'; SET row_security = off;"
         " SET search_path = pg_catalog; SET statement_timeout = " +
             std::to_string(std::min<long long>(std::max<long long>(timeout_ms, 1000), 2147483647LL)),
         redact);
}

// sum() of bigint hashes comes back as numeric text: its value modulo 2^64, in hex.
std::string digest_of_sum(const std::string& text) {
    unsigned __int128 acc = 0;
    bool negative = false;
    for (char c : text) {
        if (c == '-') {
            negative = true;
        } else if (c >= '0' && c <= '9') {
            acc = acc * 10 + static_cast<unsigned>(c - '0');
        } else {
            break;  // a numeric sum of integers has no fraction; stop at anything else
        }
    }
    if (negative) acc = ~acc + 1;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(static_cast<std::uint64_t>(acc)));
    return buf;
}

TableParity parity_row(PGresult* res) {
    TableParity p;
    p.rows = std::stoull(PQgetvalue(res, 0, 0));
    p.digest = digest_of_sum(PQgetvalue(res, 0, 1));
    return p;
}

// One table's row count and hash sum. On 14+ each row is hashed with its
// columns' own extended hash functions (hash_record_extended: no text
// conversion, about twice as fast); a table with a column type that has none
// (json, point, xml, ...) fails that at its first row, and is then hashed
// through its rows' text (hashtextextended), in a savepoint so the
// transaction and its snapshot go on. Both sides of a comparison hash the
// same data, so they choose the same way.
TableParity table_parity(PGconn* conn, const std::string& name, bool record_hash, const Redactor& redact) {
    const auto text_query =
        "SELECT count(*), coalesce(sum(hashtextextended(ROW(r.*)::text, 0)), 0) FROM " + name + " AS r";
    if (!record_hash) return parity_row(exec(conn, text_query, redact).get());
    exec(conn, "SAVEPOINT levqor_parity", redact);
    try {
        const auto res =
            exec(conn, "SELECT count(*), coalesce(sum(hash_record_extended(ROW(r.*), 0)), 0) FROM " + name + " AS r",
                 redact);
        exec(conn, "RELEASE SAVEPOINT levqor_parity", redact);
        return parity_row(res.get());
    } catch (const PostgresError& e) {
        if (std::string(e.what()).find("could not identify an extended hash function") == std::string::npos) throw;
    }
    exec(conn, "ROLLBACK TO SAVEPOINT levqor_parity", redact);
    exec(conn, "RELEASE SAVEPOINT levqor_parity", redact);
    return parity_row(exec(conn, text_query, redact).get());
}

// The parity of every user table and of the large objects, in the
// connection's current snapshot (a transaction's, when one is open).
Parity compute_parity(PGconn* conn, bool record_hash, const Redactor& redact) {
    // record_ok: every column is (a domain over, an array of) a built-in base
    // type that is not an OID (oid, reg*): enums, composites, ranges and
    // extension types may hash by OIDs a restored copy does not share
    // (enum labels do), so their tables are hashed through their text.
    const auto tables = exec(conn,
                             "SELECT format('%I.%I', n.nspname, c.relname), NOT EXISTS ("
                             "   SELECT 1 FROM pg_attribute a"
                             "   JOIN pg_type t ON t.oid = a.atttypid"
                             "   JOIN pg_type u ON u.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
                             "   JOIN pg_type f ON f.oid = CASE WHEN u.typcategory = 'A' THEN u.typelem ELSE u.oid END"
                             "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
                             "     AND (f.typtype <> 'b' OR f.typnamespace <> 'pg_catalog'::regnamespace"
                             "          OR f.typname = 'oid' OR f.typname LIKE 'reg%'))"
                             " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                             " WHERE c.relkind = 'r' AND c.relpersistence <> 't'"
                             "   AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                             "   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
                             "   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
                             "                   AND d.objid = c.oid AND d.deptype = 'e')"
                             " ORDER BY 1",
                             redact);
    Parity parity;
    for (int i = 0; i < PQntuples(tables.get()); ++i) {
        const std::string name = PQgetvalue(tables.get(), i, 0);  // quoted by format('%I.%I'): safe as SQL
        const bool record_ok = PQgetvalue(tables.get(), i, 1)[0] == 't';
        parity[name] = table_parity(conn, name, record_hash && record_ok, redact);
    }
    const auto lo = exec(conn,
                         "SELECT count(*), coalesce(sum(hashtextextended(m.oid::text || ':' || md5(lo_get(m.oid)), 0)),"
                         " 0) FROM pg_largeobject_metadata m",
                         redact);
    parity[kLargeObjects] = parity_row(lo.get());
    return parity;
}

struct ServerInfo {
    int version_num = 0;
    std::string version;
    int major() const { return version_num / 10000; }
};

ServerInfo server_info(PGconn* conn, const Redactor& redact) {
    const auto res =
        exec(conn, "SELECT current_setting('server_version_num'), current_setting('server_version')", redact);
    ServerInfo info;
    info.version_num = std::stoi(PQgetvalue(res.get(), 0, 0));
    info.version = PQgetvalue(res.get(), 0, 1);
    if (info.version_num < kMinServerVersion) {
        throw PostgresError("PostgreSQL " + info.version + " is not supported for backups: 11 or newer is needed");
    }
    return info;
}

// The path of a PostgreSQL program of the server's major version, checked
// with `<program> --version`; returns that version line.
std::string matching_tool(const PostgresOptions& options, const ServerInfo& server, const std::string& program,
                          std::string& path) {
    const auto dir =
        options.bin_dir.empty() ? "/usr/lib/postgresql/" + std::to_string(server.major()) + "/bin" : options.bin_dir;
    path = dir + "/" + program;
    if (::access(path.c_str(), X_OK) != 0) {
        throw PostgresError("no " + program + " for the PostgreSQL " + server.version + " server (major version " +
                            std::to_string(server.major()) + "): " + path + ": " + std::strerror(errno));
    }
    queue::ExecSpec spec;
    spec.path = path;
    spec.argv = {path, "--version"};
    spec.env = {{"LC_ALL", "C"}};
    spec.timeout = std::chrono::seconds(10);
    const auto run = queue::run_command(spec);
    if (!run.started || run.exit_code != 0) {
        throw PostgresError("cannot run " + path + " --version: " + (run.error.empty() ? run.err : run.error));
    }
    std::string line = run.out.substr(0, run.out.find('\n'));
    // "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)": the major is the number after ") ".
    const auto at = line.find(") ");
    int major = at == std::string::npos ? 0 : std::atoi(line.c_str() + at + 2);
    if (major != server.major()) {
        throw PostgresError(path + " is " + line + " but the server is PostgreSQL " + server.version +
                            ": the major versions must match (" + std::to_string(major) + " vs " +
                            std::to_string(server.major()) + ")");
    }
    return line;
}

std::vector<std::pair<std::string, std::string>> child_env(const ConnParams& params) {
    std::vector<std::pair<std::string, std::string>> env = {{"LC_ALL", "C"}, {"PGAPPNAME", "levqor-backup"}};
    if (!params.password.empty()) env.emplace_back("PGPASSWORD", params.password);
    return env;
}

std::string child_failure(const std::string& program, const queue::ExecResult& run, const Redactor& redact) {
    std::string why;
    if (!run.started) {
        why = run.error;
    } else if (run.timed_out) {
        why = "timed out";
    } else if (run.signal != 0) {
        why = "killed by signal " + std::to_string(run.signal);
    } else {
        why = "exit code " + std::to_string(run.exit_code);
    }
    std::string out = program + " failed (" + why + ")";
    const auto err = redact(run.err);
    if (!err.empty()) out += ": " + err;
    return out;
}

// Joins a thread on every path out of a scope.
class Joiner {
public:
    explicit Joiner(std::thread& t) : t_(t) {}
    ~Joiner() {
        if (t_.joinable()) t_.join();
    }
    Joiner(const Joiner&) = delete;
    Joiner& operator=(const Joiner&) = delete;

private:
    std::thread& t_;
};

bool valid_id(const std::string& id) {
    if (id.empty() || id.size() > 40) return false;
    for (char c : id) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

// Drops the scratch database when the drill ends, whatever happened, on a
// fresh connection (the one that created it may have timed out meanwhile).
class ScratchDatabase {
public:
    ScratchDatabase(const ConnParams& params, const PostgresOptions& options, std::string name, bool force)
        : params_(params), options_(options), name_(std::move(name)), force_(force) {}
    ~ScratchDatabase() {
        try {
            drop();
        } catch (...) {
            // Nothing to do here: the next drill of this id drops it first.
        }
    }
    ScratchDatabase(const ScratchDatabase&) = delete;
    ScratchDatabase& operator=(const ScratchDatabase&) = delete;

    void drop() {
        if (dropped_) return;
        const Redactor redact(params_.password);
        auto conn = connect(params_, options_);
        exec(conn.get(), "DROP DATABASE IF EXISTS " + quote_ident(conn.get(), name_) + (force_ ? " WITH (FORCE)" : ""),
             redact);
        dropped_ = true;
    }

private:
    const ConnParams& params_;
    const PostgresOptions& options_;
    std::string name_;
    bool force_;
    bool dropped_ = false;
};

// CREATE DATABASE <name> like the connection's own: encoding and locale, from template0.
void create_database_like_source(PGconn* conn, const std::string& name, const Redactor& redact) {
    const auto src = exec(conn,
                          "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database"
                          " WHERE datname = current_database()",
                          redact);
    exec(conn,
         "CREATE DATABASE " + quote_ident(conn, name) + " TEMPLATE template0 ENCODING " +
             quote_literal(conn, PQgetvalue(src.get(), 0, 0)) + " LC_COLLATE " +
             quote_literal(conn, PQgetvalue(src.get(), 0, 1)) + " LC_CTYPE " +
             quote_literal(conn, PQgetvalue(src.get(), 0, 2)),
         redact);
}

std::string drop_database_sql(PGconn* conn, const std::string& name, const ServerInfo& server) {
    return "DROP DATABASE IF EXISTS " + quote_ident(conn, name) + (server.version_num >= 130000 ? " WITH (FORCE)" : "");
}

int restore_jobs(const PostgresOptions& options) { return std::max(1, std::min(options.restore_jobs, 16)); }

// pg_restore of dump_file into the database, stopping at the first error.
queue::ExecResult run_pg_restore(const PostgresOptions& options, const ConnParams& params,
                                 const std::string& pg_restore, const std::string& database,
                                 const std::string& dump_file, std::vector<std::string> extra) {
    queue::ExecSpec spec;
    spec.path = pg_restore;
    spec.argv = {pg_restore, "--no-password", "--exit-on-error", "--jobs=" + std::to_string(restore_jobs(options)),
                 "--dbname=" + conninfo_without_password(params, database)};
    for (auto& arg : extra) spec.argv.push_back(std::move(arg));
    spec.argv.push_back(dump_file);
    spec.env = child_env(params);
    spec.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);
    return queue::run_command(spec);
}

}  // namespace

PostgresDump dump_postgres(const PostgresOptions& options, const std::string& dir) {
    const auto params = parse_conninfo(options.url);
    const Redactor redact(params.password);
    auto conn = connect(params, options);
    const auto server = server_info(conn.get(), redact);
    std::string pg_dump;
    PostgresDump dump;
    dump.server_version = server.version;
    dump.pg_dump_version = matching_tool(options, server, "pg_dump", pg_dump);
    dump.file = dir + "/dump.pgc";
    if (::unlink(dump.file.c_str()) != 0 && errno != ENOENT) {
        throw PostgresError("cannot remove " + dump.file + ": " + std::strerror(errno));
    }

    exec(conn.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", redact);
    fixed_output_settings(conn.get(), options, redact);
    const auto snap = exec(conn.get(), "SELECT pg_export_snapshot()", redact);
    const std::string snapshot = PQgetvalue(snap.get(), 0, 0);

    queue::ExecSpec spec;
    spec.path = pg_dump;
    spec.argv = {pg_dump,
                 "--format=custom",
                 "--no-password",
                 "--snapshot=" + snapshot,
                 "--file=" + dump.file,
                 "--dbname=" + conninfo_without_password(params, {})};
    spec.env = child_env(params);
    spec.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);
    queue::ExecResult run;
    const auto started = Clock::now();
    std::thread dumper([&] {
        run = queue::run_command(spec);
        dump.dump_seconds = seconds_since(started);
    });
    std::exception_ptr parity_error;
    {
        Joiner join(dumper);
        // The parity in the exporting transaction itself, while pg_dump runs:
        // the same snapshot, and the two scans share the machine's cores.
        const auto parity_started = Clock::now();
        try {
            dump.parity = compute_parity(conn.get(), server.version_num >= 140000, redact);
        } catch (...) {
            parity_error = std::current_exception();
        }
        dump.parity_seconds = seconds_since(parity_started);
    }
    // Read only: ending it either way changes nothing; the snapshot was needed until now.
    Result end(PQexec(conn.get(), "ROLLBACK"));

    const auto fail = [&](const std::string& why) {
        ::unlink(dump.file.c_str());
        throw PostgresError(why);
    };
    // A failed parity query first: it aborts the exporting transaction, which
    // ends the snapshot, so pg_dump's failure may be only its consequence.
    if (parity_error) {
        try {
            std::rethrow_exception(parity_error);
        } catch (const std::exception& e) {
            fail(redact("parity of " + params.where() + ": " + e.what()));
        }
    }
    if (!run.started || run.timed_out || run.exit_code != 0) fail(child_failure("pg_dump", run, redact));
    struct stat st {};
    if (::stat(dump.file.c_str(), &st) != 0) fail("pg_dump wrote no " + dump.file + ": " + std::strerror(errno));
    dump.bytes = static_cast<std::uint64_t>(st.st_size);
    return dump;
}

DrillResult drill_postgres(const PostgresOptions& options, const std::string& dump_file, const Parity& expected,
                           const std::string& id, const BeforeCompare& before_compare) {
    if (!valid_id(id)) throw PostgresError("invalid backup id for a scratch database (1..40 of [A-Za-z0-9_-])");
    DrillResult result;
    result.database = "levqor_verify_" + id;
    std::string password;
    try {
        const auto params = parse_conninfo(options.url);
        password = params.password;
        const Redactor redact(params.password);
        auto conn = connect(params, options);
        const auto server = server_info(conn.get(), redact);
        std::string pg_restore;
        matching_tool(options, server, "pg_restore", pg_restore);
        const bool force = server.version_num >= 130000;
        exec(conn.get(), drop_database_sql(conn.get(), result.database, server), redact);
        create_database_like_source(conn.get(), result.database, redact);
        conn.reset();
        ScratchDatabase scratch(params, options, result.database, force);

        // Ownership and grants are not what a drill checks: a role without
        // superuser could not restore them anyway.
        const auto started = Clock::now();
        const auto run =
            run_pg_restore(options, params, pg_restore, result.database, dump_file, {"--no-owner", "--no-acl"});
        result.restore_seconds = seconds_since(started);
        if (!run.started || run.timed_out || run.exit_code != 0) {
            result.error = child_failure("pg_restore", run, redact);
            return result;
        }

        if (before_compare) {
            std::string info = conninfo_without_password(params, result.database);
            if (!params.password.empty()) info += " " + conninfo_pair("password", params.password);
            before_compare(info);
        }

        const auto parity_started = Clock::now();
        auto copy = connect(params, options, result.database);
        exec(copy.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", redact);
        fixed_output_settings(copy.get(), options, redact);
        // The machine is the drill's alone now: each table's scan in parallel
        // workers (count and sum aggregate in parallel; hashtextextended is
        // parallel safe), as many as pg_restore had jobs.
        exec(copy.get(), "SET max_parallel_workers_per_gather = " + std::to_string(restore_jobs(options)), redact);
        result.parity = compute_parity(copy.get(), server.version_num >= 140000, redact);
        copy.reset();
        result.parity_seconds = seconds_since(parity_started);

        const auto diff = describe_mismatch(expected, result.parity);
        if (!diff.empty()) {
            result.error = "the restored copy differs from the backup's parity:\n" + diff;
            return result;
        }
        scratch.drop();  // here, so a failure to drop is reported
        result.ok = true;
    } catch (const std::exception& e) {
        result.ok = false;
        result.error = Redactor(password)(e.what());
    }
    return result;
}

RestoreResult restore_postgres(const PostgresOptions& options, const std::string& dump_file, const std::string& into,
                               bool force) {
    RestoreResult result;
    std::string password;
    try {
        const auto params = parse_conninfo(options.url);
        password = params.password;
        const Redactor redact(params.password);
        if (into.empty() || into.size() > 63 || into.find('\0') != std::string::npos) {
            throw PostgresError("invalid database name to restore into (1..63 bytes)");
        }
        if (into == params.get("dbname") || into == "postgres" || into == "template0" || into == "template1") {
            throw PostgresError("refusing to restore into \"" + into +
                                "\": the backed-up database itself or a system database");
        }
        auto conn = connect(params, options);
        const auto server = server_info(conn.get(), redact);
        std::string pg_restore;
        matching_tool(options, server, "pg_restore", pg_restore);

        const auto found = exec(
            conn.get(), "SELECT count(*) FROM pg_database WHERE datname = " + quote_literal(conn.get(), into), redact);
        bool exists = std::string(PQgetvalue(found.get(), 0, 0)) != "0";
        if (exists) {
            auto target = connect(params, options, into);
            const auto objects = exec(target.get(),
                                      "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                      " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
                                      "   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'",
                                      redact);
            const bool empty = std::string(PQgetvalue(objects.get(), 0, 0)) == "0";
            if (!empty && !force) {
                result.conflict = true;
                throw PostgresError("database \"" + into +
                                    "\" exists and is not empty (restore with force to replace it)");
            }
            if (!empty) {
                target.reset();
                exec(conn.get(), drop_database_sql(conn.get(), into, server), redact);
                exists = false;
            }
        }
        const bool created = !exists;
        if (created) create_database_like_source(conn.get(), into, redact);

        const auto started = Clock::now();
        const auto run = run_pg_restore(options, params, pg_restore, into, dump_file, {"--no-owner"});
        result.restore_seconds = seconds_since(started);
        if (!run.started || run.timed_out || run.exit_code != 0) {
            result.error = child_failure("pg_restore", run, redact);
            // A half-restored database of ours is not left behind.
            if (created) exec(conn.get(), drop_database_sql(conn.get(), into, server), redact);
            return result;
        }
        result.ok = true;
    } catch (const std::exception& e) {
        result.ok = false;
        result.error = Redactor(password)(e.what());
    }
    return result;
}

std::optional<std::uint64_t> postgres_database_size(const PostgresOptions& options, const std::string& database) {
    try {
        auto quick = options;
        quick.connect_timeout_seconds = 2;
        const auto params = parse_conninfo(options.url);
        const Redactor redact(params.password);
        auto conn = connect(params, quick);
        const auto res = exec(
            conn.get(),
            "SELECT pg_database_size(datname) FROM pg_database WHERE datname = " + quote_literal(conn.get(), database),
            redact);
        if (PQntuples(res.get()) != 1 || PQgetisnull(res.get(), 0, 0)) return std::nullopt;
        return std::stoull(PQgetvalue(res.get(), 0, 0));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace levqor::controld::backup
