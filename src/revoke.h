/* revoke.h: the revocation store: the set of revoked token ids shared by
 * every worker thread, made durable by an append-only journal, seeded by a
 * read-only file of ids, and fed by what the protected API confirms (token
 * deleted, or patched to "inactive"/"active") and by operators.
 *
 * Threads: one store per process, shared. revoke_is_revoked() is the hot
 * path (a keyed hash and a compare under a read lock, no allocation). The
 * writers (revoke_add, revoke_remove, revoke_compact) serialize on a mutex
 * and return only after the journal line is on disk (fdatasync), so a
 * caller that answers its client afterwards never loses a revocation to a
 * crash. A revoked id stays revoked until it is reinstated or compacted
 * away after its expiry.
 *
 * Journal format: one event per line, "+ <id> <expires_at>\n" (revoke
 * until that unix time) or "- <id>\n" (reinstate). Ids are 1 to
 * SG_REVOKE_MAX_ID_BYTES bytes of printable ASCII without spaces
 * (0x21-0x7e). A last line without its newline is a torn write: replay
 * ignores it and truncates it away. Any other malformed line is an error
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
	char *journal;			/* resolved path; NULL: not durable */
	char *ids_file;			/* resolved path, or NULL */
	int64_t retention_s;		/* kept this long when exp is unknown */
	char *redis_url;		/* as written, or NULL: no sharing */
	char *redis_host;		/* parsed from redis_url */
	uint16_t redis_port;
	int redis_db;
	char *redis_key;		/* sorted set: id -> expires_at */
	char *redis_channel;		/* pub/sub channel for changes */
	char *redis_password_file;	/* or NULL: no AUTH */
	char *redis_password;		/* read from it at load (cleansed on free) */
};

/* Parse obj (the "revocations" object at JSON pointer ptr; NULL when the
 * section is absent: defaults, no journal) strictly: unknown keys and bad
 * values are added to jc->errs at their pointers. Relative paths are
 * resolved against base_dir. NULL on any error. Keys: "journal",
 * "ids_file", "retention_s", "redis" ("redis://host[:port][/db]"),
 * "redis_key", "redis_channel", "redis_password_file". */
struct revoke_config *revoke_config_parse(struct jsonconf *jc, const json_t *obj,
    const char *ptr, const char *base_dir);
struct revoke_config *revoke_config_dup(const struct revoke_config *rc);
void revoke_config_free(struct revoke_config *rc);

/* Results of the writing calls; REVOKE_OK is 0, every failure negative. */
enum revoke_result {
	REVOKE_OK = 0,
	REVOKE_INVALID_ID = -1,		/* empty, too long, space or control bytes */
	REVOKE_NOT_FOUND = -2,		/* remove: the id is not revoked */
	REVOKE_READONLY = -3,		/* remove: the id comes from the ids file */
	REVOKE_IO = -4,			/* the journal could not be written (logged) */
};

const char *revoke_result_str(enum revoke_result r);

/* Where an entry comes from. */
enum revoke_source {
	REVOKE_SRC_JOURNAL,		/* revoke_add, replay, Redis */
	REVOKE_SRC_FILE,		/* the read-only ids file: never expires */
};

struct revoke_store;

/* Open the store: take the journal's lock file (<journal>.lock; one
 * process per journal), replay the journal (creating it if needed),
 * truncate a torn last line, load the ids file, then compact. NULL on any
 * problem, with every message in errs. The store keeps a copy of rc. */
struct revoke_store *revoke_store_open(const struct revoke_config *rc, struct errlist *errs);
/* The same entries for a look from outside (scopegate explain): the
 * journal read without its lock and never written, the ids file; no
 * compaction, no Redis. Revoking through it is not allowed. */
struct revoke_store *revoke_store_open_read_only(const struct revoke_config *rc,
    struct errlist *errs);
/* Close the journal and free the store. Detach any Redis link first. */
void revoke_store_close(struct revoke_store *st);

const struct revoke_config *revoke_store_config(const struct revoke_store *st);

/* 1 when token_id is revoked, else 0 (also for an id that could never be
 * revoked: empty, too long, ...). Thread-safe, no allocation. */
int revoke_is_revoked(const struct revoke_store *st, const char *token_id, size_t len);

/* Changes whenever the set changes (add, remove, compaction, Redis); a
 * worker may compare it with the value it saw last to skip work. */
uint64_t revoke_generation(const struct revoke_store *st);

/* Number of revoked ids (journal and ids file). */
size_t revoke_count(const struct revoke_store *st);

/* Revoke id until expires_at (unix time; 0: now + retention_s). The
 * journal line is written and fdatasync'd before this returns. Revoking
 * an id again keeps the later expiry. On REVOKE_IO the id is still revoked
 * in memory (fail closed) but would not survive a restart. */
enum revoke_result revoke_add(struct revoke_store *st, const char *id, size_t len,
    int64_t expires_at);

/* Reinstate id (journaled and synced likewise). REVOKE_READONLY for an id
 * from the ids file; on REVOKE_IO nothing changes. */
enum revoke_result revoke_remove(struct revoke_store *st, const char *id, size_t len);

/* Drop entries whose expiry is <= now and rewrite the journal atomically
 * (temporary file, fsync, rename, fsync of the folder). 0 or -1 (logged,
 * nothing changed). Cheap to call from a periodic timer; revoke_add also
 * compacts on its own when the journal holds many dead lines. */
int revoke_compact(struct revoke_store *st, time_t now);

/* Every entry as {"revocations": [{"id", "expires_at", "source"}...],
 * "count": N, "generation": G}, sorted by id (expires_at is null for ids
 * file entries). A new reference. */
json_t *revoke_list_json(const struct revoke_store *st);

/* Replication hooks (used by revoke_redis.c). */

/* Called after every local change (revoke_add / revoke_remove, not the
 * *_remote variants): op is '+' or '-'. It runs in the changing thread
 * with the store's writer lock held: it must be quick and must not call
 * back into the store. NULL to remove; when set_listener returns, no call
 * to the old listener is in progress. */
typedef void revoke_listener_fn(void *arg, char op, const char *id, size_t len,
    int64_t expires_at);
void revoke_store_set_listener(struct revoke_store *st, revoke_listener_fn *fn, void *arg);

/* Apply a change learnt from a peer: journaled like a local one but not
 * passed to the listener. remove does not touch ids file entries. */
enum revoke_result revoke_add_remote(struct revoke_store *st, const char *id, size_t len,
    int64_t expires_at);
enum revoke_result revoke_remove_remote(struct revoke_store *st, const char *id, size_t len);

/* A copy of the journal-sourced entries (not the ids file). */
struct revoke_entry {
	char *id;
	size_t len;
	int64_t expires_at;
};
size_t revoke_snapshot(const struct revoke_store *st, struct revoke_entry **out);
void revoke_snapshot_free(struct revoke_entry *v, size_t n);

/* The journal parser (pure; fuzzed). */

/* 1 when id may be stored: 1..SG_REVOKE_MAX_ID_BYTES bytes in 0x21-0x7e. */
int revoke_id_valid(const char *id, size_t len);

/* One parsed event; id points into the parsed buffer. */
struct revoke_event {
	char op;			/* '+' or '-' */
	const char *id;
	size_t len;
	int64_t expires_at;		/* '+' only, >= 0 */
};

/* Called for each complete, valid line; a non-zero return stops the
 * parse, which then returns that value. */
typedef int revoke_event_fn(void *arg, const struct revoke_event *ev);

/* Parse buf. *used is set to the length of the complete lines (a torn
 * last line is not used). Returns 0, or -1 with "name:line: message" added
 * to errs (may be NULL) for the first malformed complete line. */
int revoke_journal_parse(const char *buf, size_t len, const char *name,
    revoke_event_fn *fn, void *arg, size_t *used, struct errlist *errs);

/* Parse a single event without its newline (a pub/sub message). */
int revoke_event_parse(const char *line, size_t len, struct revoke_event *ev);

/* Operator API for the admin listener: pure functions that return the
 * HTTP status and set *reply to a new JSON body (NULL for 204). */

/* POST /revocations with body {"id": "...", "expires_at": N (optional,
 * unix time)}: 201 revoked, 400 bad body or id, 500 journal failure. */
int revoke_admin_post(struct revoke_store *st, const char *body, size_t len, json_t **reply);
/* DELETE /revocations/{id}; raw is the path segment, still
 * percent-encoded: 204, 400, 404 not revoked, 409 ids file, 500. */
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
 * done. A reinstate of an id that was not revoked is REVOKE_OK. */
enum revoke_result revoke_learn_apply(struct revoke_store *st, const struct revoke_intent *in,
    int upstream_status);

#endif
