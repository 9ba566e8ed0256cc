/* revoke.h: the revocation store: the set of revoked token ids shared by
 * every worker thread, made durable by an append-only journal, seeded by a
 * read-only file of ids, and fed by what the protected API confirms (token
 * deleted, or patched to "inactive"/"active") and by operators.
 *
 * Threads: one store per process, shared. revoke_is_revoked() is the hot
 * path (a keyed hash and a compare under a read lock, no allocation). The
 * writers serialize on a mutex and return only after the journal line is
 * on disk (fdatasync), so a caller that answers its client afterwards
 * never loses a revocation to a crash.
 *
 * Ids: every path that stores or looks up an id (the token's id claim,
 * the API's path parameter, the admin API, the ids file, the journal,
 * Redis) first puts it in one canonical form, revoke_id_canon(): 1 to
 * SG_REVOKE_MAX_ID_BYTES bytes of printable ASCII without spaces, and an
 * id of exactly 24 hex digits (a Losant objectid, which the upstream
 * accepts in either case) in lower case. Anything else is compared byte
 * for byte.
 *
 * Entries: each id has one state, revoked or reinstated (a tombstone),
 * with a version (microseconds since the epoch, strictly increasing per
 * store) and a source (who made the change). Merges (journal replay,
 * Redis) keep the newest version; on a tie a revocation wins. A revoked
 * entry lasts until its expiry. For an entry whose token expiry is
 * unknown (learned from the API, or an operator's without expires_at)
 * that is now + token_life_s when tokens.max_lifetime_s bounds how long
 * an accepted token lives (a token of that id that verifies at the
 * revocation stops verifying before then; one refused then because its
 * exp was too far ahead stays refused if it carries iat, see jwt.c
 * check_lifetime), and never without that bound (a token may live for
 * ever, so must its revocation). Changes from Redis have their expiry
 * capped at now + token_life_s (a peer, or whoever can write to Redis,
 * cannot pin entries for 2^63 s). A tombstone lasts retention_s. An ids
 * file entry is separate, read-only and never expires.
 *
 * Journal format 2: a first line "#scopegate-revocations 2", then one
 * change a line:
 *   "+ <id> <expires_at> <version> <source>[ p]"  revoked until expires_at
 *   "- <id> <until> <version> <source>[ p]"       reinstated (tombstone)
 *   "a <id> <version>"                            that change reached Redis
 * ("p": not yet acknowledged by Redis; pushed again after a restart).
 * Format 1 (no header; "+ <id> <expires_at>" and "- <id>") still loads:
 * its entries count as an operator's (only the admin API reinstates them)
 * with versions in line order, and the file is rewritten in format 2. A
 * last line without its newline is a torn write: replay ignores it and
 * truncates it away. Any other malformed line is an error
 * ("file:line: message") and the store does not open. */
#ifndef SCOPEGATE_REVOKE_H
#define SCOPEGATE_REVOKE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "defaults.h"
#include "errlist.h"
#include "jsonconf.h"

/* The "revocations" section of the configuration. */
struct revoke_config {
	int present;			/* the section is in the configuration */
	char *journal;			/* resolved path; NULL: not durable */
	char *ids_file;			/* resolved path, or NULL */
	int64_t retention_s;		/* how long a tombstone is kept */
	char *redis_url;		/* as written, or NULL: no sharing */
	char *redis_host;		/* parsed from redis_url */
	uint16_t redis_port;
	int redis_db;
	char *redis_key;		/* sorted set: id -> expires_at */
	char *redis_channel;		/* pub/sub channel for changes */
	char *redis_password_file;	/* or NULL: no AUTH */
	char *redis_password;		/* read from it at load (cleansed on free) */
	int64_t redis_max_entries;	/* entries learnt from Redis, at most */
	/* Not a key of this section: set from "tokens" by cfg.c. How long
	 * past a moment t a token accepted at t may still verify
	 * (max_lifetime_s + 2 * leeway_s: exp may be leeway_s beyond the
	 * bound and is honoured leeway_s past itself); 0 when tokens have no
	 * bound on their lifetime. */
	int64_t token_life_s;
};

/* Parse obj (the "revocations" object at JSON pointer ptr; NULL when the
 * section is absent: defaults, no journal) strictly: unknown keys and bad
 * values are added to jc->errs at their pointers. Relative paths are
 * resolved against base_dir. NULL on any error. Keys: "journal",
 * "ids_file", "retention_s", "redis" ("redis://host[:port][/db]"),
 * "redis_key", "redis_channel", "redis_password_file",
 * "redis_max_entries". */
struct revoke_config *revoke_config_parse(struct jsonconf *jc, const json_t *obj,
    const char *ptr, const char *base_dir);
struct revoke_config *revoke_config_dup(const struct revoke_config *rc);
void revoke_config_free(struct revoke_config *rc);

/* The settings that differ between a and b and that only a restart
 * applies (journal, Redis URL, key, channel): up to max names (static
 * strings) into names; returns how many. */
size_t revoke_config_restart_needed(const struct revoke_config *a,
    const struct revoke_config *b, const char **names, size_t max);

/* Results of the writing calls; REVOKE_OK is 0, every failure negative. */
enum revoke_result {
	REVOKE_OK = 0,
	REVOKE_INVALID_ID = -1,		/* empty, too long, space or control bytes */
	REVOKE_NOT_FOUND = -2,		/* remove: the id is not revoked */
	REVOKE_READONLY = -3,		/* remove: the id comes from the ids file */
	REVOKE_IO = -4,			/* the journal could not be written (logged) */
	REVOKE_FORBIDDEN = -5,		/* remove: a stronger source revoked it */
	REVOKE_FULL = -6,		/* remote: the bound on Redis entries is reached */
};

const char *revoke_result_str(enum revoke_result r);

/* Who made a change, weakest first: a status change may only undo a
 * status change; a deletion and an operator's revocation are undone only
 * by an operator. */
enum revoke_source {
	REVOKE_SRC_STATUS,		/* learnt: "status": "inactive"/"active" */
	REVOKE_SRC_DELETE,		/* learnt: the token was deleted */
	REVOKE_SRC_OPERATOR,		/* the admin API (and format 1 journals) */
	REVOKE_SRC_FILE,		/* the read-only ids file: never expires */
};
#define REVOKE_NSOURCES	4

/* "status", "delete", "operator", "file". */
const char *revoke_source_str(enum revoke_source s);
/* The reverse (journal, Redis); -1 when unknown. */
int revoke_source_parse(const char *s, size_t len);

/* Expiry of an entry that lasts as long as the journal. */
#define REVOKE_NEVER	INT64_MAX

/* Put id in canonical form (see above) into out (at least
 * SG_REVOKE_MAX_ID_BYTES bytes). Returns the length, or 0 when the id
 * could never be stored (then out is unspecified). Pure. */
size_t revoke_id_canon(const char *id, size_t len, char *out);

struct revoke_store;

/* Open the store: take the journal's lock file (<journal>.lock; one
 * process per journal), replay the journal (creating it if needed),
 * truncate a torn last line, load the ids file, then compact (which also
 * rewrites a format 1 journal). NULL on any problem, with every message
 * in errs. The store keeps a copy of rc. */
struct revoke_store *revoke_store_open(const struct revoke_config *rc, struct errlist *errs);
/* The same entries for a look from outside (scopegate explain): the
 * journal read without its lock and never written, the ids file; no
 * compaction, no Redis. Revoking through it is not allowed. */
struct revoke_store *revoke_store_open_read_only(const struct revoke_config *rc,
    struct errlist *errs);
/* Read rc's ids file, if any, as a start or a reload would, and drop what
 * was read (scopegate -t: a file the daemon would refuse fails the check).
 * 0 or -1 (in errs). */
int revoke_ids_file_check(const struct revoke_config *rc, struct errlist *errs);
/* Close the journal and free the store. Detach any Redis link first. */
void revoke_store_close(struct revoke_store *st);

const struct revoke_config *revoke_store_config(const struct revoke_store *st);

/* Apply what a reload may change live: read the ids file of rc again
 * (its entries replace the old file's: added and removed), the tombstone
 * retention, the Redis bounds and token_life_s (for changes from then
 * on: entries held keep their expiry). The password is the Redis link's
 * business (revoke_redis_reload). 0, or -1 with messages in errs and
 * nothing changed (an unreadable or malformed ids file). */
int revoke_store_reload(struct revoke_store *st, const struct revoke_config *rc,
    struct errlist *errs);

/* 1 when token_id is revoked, else 0 (also for an id that could never be
 * revoked: empty, too long, ...). Thread-safe, no allocation. */
int revoke_is_revoked(const struct revoke_store *st, const char *token_id, size_t len);

/* 1 when id is already revoked in the journal for good (no expiry) by
 * src or a stronger source: learning that revocation again would change
 * nothing, so the caller skips it (no journal write, log line or Redis
 * message). Read-only, like revoke_is_revoked. */
int revoke_holds(const struct revoke_store *st, const char *id, size_t len,
    enum revoke_source src);

/* Changes whenever the set changes (add, remove, compaction, Redis); a
 * worker may compare it with the value it saw last to skip work. */
uint64_t revoke_generation(const struct revoke_store *st);

/* Number of revoked ids (journal and ids file; tombstones not counted). */
size_t revoke_count(const struct revoke_store *st);

/* The revoked ids by the source of their revocation (by[source], the
 * journal's source where an id is in both the journal and the ids file);
 * they add up to revoke_count. Walks the table under the read lock: for
 * /metrics, not for the request path. */
void revoke_count_by_source(const struct revoke_store *st, size_t by[REVOKE_NSOURCES]);

/* Revoke id until expires_at (unix time; 0: REVOKE_NEVER) on behalf of
 * src. The journal line is written and fdatasync'd before this returns.
 * Revoking an id again keeps the later expiry and the stronger source. On
 * REVOKE_IO the id is still revoked in memory (fail closed) but would not
 * survive a restart. */
enum revoke_result revoke_add_src(struct revoke_store *st, const char *id, size_t len,
    int64_t expires_at, enum revoke_source src);
/* revoke_add_src() for an operator. */
enum revoke_result revoke_add(struct revoke_store *st, const char *id, size_t len,
    int64_t expires_at);

/* Reinstate id on behalf of src (journaled and synced likewise):
 * REVOKE_READONLY for an id from the ids file, REVOKE_FORBIDDEN when src
 * is weaker than the source of the revocation; on REVOKE_IO nothing
 * changes. */
enum revoke_result revoke_remove_src(struct revoke_store *st, const char *id, size_t len,
    enum revoke_source src);
/* revoke_remove_src() for an operator. */
enum revoke_result revoke_remove(struct revoke_store *st, const char *id, size_t len);

/* Drop revoked entries whose expiry is <= now and tombstones past their
 * time, and rewrite the journal atomically (temporary file, fsync, rename,
 * fsync of the folder). 0 or -1 (logged, nothing changed). Cheap to call
 * from a periodic timer; the writers also compact on their own when the
 * journal holds many dead lines. */
int revoke_compact(struct revoke_store *st, time_t now);

/* Every revoked entry as {"revocations": [{"id", "expires_at", "source",
 * "version"}...], "count": N, "generation": G}, sorted by id (expires_at
 * is null for entries that never expire). A new reference. */
json_t *revoke_list_json(const struct revoke_store *st);

/* Replication (used by revoke_redis.c). */

/* One change: a revocation ('+', expires_at) or a tombstone ('-', kept
 * until expires_at), with its version and source. */
struct revoke_change {
	char op;
	const char *id;			/* canonical */
	size_t len;
	int64_t expires_at;
	int64_t version;
	enum revoke_source source;
};

/* Called after every local change (not the revoke_apply_remote ones). It
 * runs in the changing thread with the store's writer lock held: it must
 * be quick and must not call back into the store. NULL to remove; when
 * set_listener returns, no call to the old listener is in progress. */
typedef void revoke_listener_fn(void *arg, const struct revoke_change *c);
void revoke_store_set_listener(struct revoke_store *st, revoke_listener_fn *fn, void *arg);

/* Merge a change learnt from a peer: applied (and journaled, not passed
 * to the listener) only when newer than what the store holds. *applied
 * (may be NULL) says whether it was. A '+' for an id the store does not
 * hold is REVOKE_FULL once redis_max_entries entries came from Redis. */
enum revoke_result revoke_apply_remote(struct revoke_store *st, const struct revoke_change *c,
    int *applied);

/* Redis acknowledged the change of id with this version: clear its
 * pending mark (journaled, not synced: a lost mark only means one more
 * push). */
void revoke_mark_pushed(struct revoke_store *st, const char *id, size_t len, int64_t version);

/* A copy of the journal entries (revoked and tombstones; not the ids
 * file); pending_only: only those Redis has not acknowledged. */
struct revoke_entry {
	char *id;
	size_t len;
	char op;			/* '+' or '-' */
	int64_t expires_at;
	int64_t version;
	enum revoke_source source;
	int pending;
};
size_t revoke_snapshot(const struct revoke_store *st, int pending_only,
    struct revoke_entry **out);
void revoke_snapshot_free(struct revoke_entry *v, size_t n);

/* Counters for the metrics: entries refused because redis_max_entries
 * was reached, and entries that came from Redis. */
uint64_t revoke_remote_refused(const struct revoke_store *st);
size_t revoke_remote_count(const struct revoke_store *st);

/* The journal parser (pure; fuzzed). */

/* 1 when id may be stored: 1..SG_REVOKE_MAX_ID_BYTES bytes in 0x21-0x7e. */
int revoke_id_valid(const char *id, size_t len);

/* One parsed line; id points into the parsed buffer (not canonical yet). */
struct revoke_event {
	char op;			/* '+', '-' or 'a' (pushed) */
	const char *id;
	size_t len;
	int64_t expires_at;		/* '+' and format 2 '-', >= 0 */
	int64_t version;		/* format 2; 0 in format 1 */
	enum revoke_source source;	/* format 1: operator */
	int pending;			/* format 2 "p" */
	int format;			/* 1 or 2 */
};

/* Called for each complete, valid line; a non-zero return stops the
 * parse, which then returns that value. */
typedef int revoke_event_fn(void *arg, const struct revoke_event *ev);

/* Parse buf: format 2 when its first line is the header, else format 1.
 * *used is set to the length of the complete lines (a torn last line is
 * not used). Returns 0, or -1 with "name:line: message" added to errs
 * (may be NULL) for the first malformed complete line. */
int revoke_journal_parse(const char *buf, size_t len, const char *name,
    revoke_event_fn *fn, void *arg, size_t *used, struct errlist *errs);

/* Parse a single line of the given format without its newline. 0 or -1. */
int revoke_event_parse(const char *line, size_t len, int format, struct revoke_event *ev);

/* The header line of format 2, with its newline. */
#define REVOKE_JOURNAL_HEADER	"#scopegate-revocations 2\n"

/* Operator API for the admin listener: pure functions that return the
 * HTTP status and set *reply to a new JSON body (NULL for 204). */

/* POST /revocations with body {"id": "...", "expires_at": N (optional,
 * unix time; absent: never)}: 201 revoked, 400 bad body or id, 500
 * journal failure. */
int revoke_admin_post(struct revoke_store *st, const char *body, size_t len, json_t **reply);
/* DELETE /revocations/{id}; raw is the path segment, still
 * percent-encoded: 204, 400, 404 not revoked, 409 ids file, 500. An
 * operator may reinstate whatever the journal holds. */
int revoke_admin_delete(struct revoke_store *st, const char *raw, size_t len, json_t **reply);
/* GET /revocations: 200 and revoke_list_json(). */
int revoke_admin_list(const struct revoke_store *st, json_t **reply);

/* Learning from the upstream (policy effects). */

struct policy_match;

enum revoke_op {
	REVOKE_OP_NONE,
	REVOKE_OP_REVOKE,
	REVOKE_OP_REINSTATE,
};

/* What a 2xx answer to this request will change; filled before the
 * request is forwarded (the body is consumed by forwarding). */
struct revoke_intent {
	enum revoke_op op;
	enum revoke_source source;	/* delete or status */
	size_t len;
	char id[SG_REVOKE_MAX_ID_BYTES + 1];
};

/* From the matched action's effects: "delete" revokes the token id in the
 * effect's path parameter (percent-decoded); "patch_status" revokes it when
 * the JSON body has "status": "inactive" and reinstates it for "active".
 * body may be NULL. Returns out->op (REVOKE_OP_NONE when nothing applies,
 * including an id that could never be stored). */
enum revoke_op revoke_learn_plan(const struct policy_match *m, const char *body,
    size_t body_len, struct revoke_intent *out);

/* Once the upstream's status is known, before the answer goes to the
 * client: on a 2xx, apply the intent (journaled and synced). Returns the
 * result of revoke_add/revoke_remove, or REVOKE_OK when nothing was to be
 * done. A reinstate of an id that was not revoked, or that a stronger
 * source revoked (logged), is REVOKE_OK. */
enum revoke_result revoke_learn_apply(struct revoke_store *st, const struct revoke_intent *in,
    int upstream_status);

#endif
