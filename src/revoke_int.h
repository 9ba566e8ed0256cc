/* revoke_int.h: the revocation store's insides, shared by revoke.c (the
 * table and its changes) and revoke_store.c (journal, ids file, life).
 * Not for other modules: they use revoke.h. */
#ifndef SCOPEGATE_REVOKE_INT_H
#define SCOPEGATE_REVOKE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "revoke.h"

#define REVOKE_MIN_SLOTS	64
/* Compact on our own when the journal holds this many more lines than
 * live entries (re-revocations and reinstatements pile up). */
#define REVOKE_AUTOCOMPACT_SLACK	1024
/* A revocation of unknown token expiry lasts token_life_s plus this
 * (revoke.c bounded_expiry). */
#define REVOKE_RELEARN_SLACK_S		60

/* An id's state. The journal part (in_journal) is either a revocation
 * (revoked: until expires_at) or a tombstone (!revoked: remembered until
 * expires_at so that an older revocation arriving later loses). */
struct rentry {
	int64_t expires_at;		/* journal part; meaningless if !in_journal */
	int64_t version;		/* journal part */
	unsigned char source;		/* enum revoke_source of the journal part */
	unsigned in_journal:1;
	unsigned revoked:1;
	unsigned pending:1;		/* not yet acknowledged by Redis */
	unsigned remote:1;		/* created by a change from Redis */
	unsigned remote_op:1;		/* ... an operator's (bounded apart) */
	unsigned in_file:1;
	size_t len;
	char id[];			/* NUL-terminated */
};

struct slot {
	uint64_t hash;
	struct rentry *e;		/* NULL: free */
};

struct revoke_store {
	struct revoke_config *rc;

	pthread_rwlock_t lock;		/* the table */
	struct slot *slots;
	size_t cap;			/* power of two */
	size_t n;
	atomic_size_t count;		/* revoked ids, readable without the lock */
	atomic_uint_fast64_t gen;
	uint64_t k0, k1;		/* SipHash key */

	pthread_mutex_t wmu;		/* writers: everything below */
	int jfd;			/* journal, O_APPEND; -1: memory only */
	int lockfd;
	char *tmp_path;
	char *dir;
	off_t jsize;			/* bytes of complete lines */
	size_t jlines;			/* lines in the journal file */
	size_t njournal;		/* entries with in_journal */
	/* Entries created by changes from Redis, bounded by
	 * redis_max_entries each: learnt from an API (nremote) and an
	 * operator's (nremote_op), so that API users deleting tokens of
	 * their own cannot crowd out an operator's revocation. */
	size_t nremote;
	size_t nremote_op;
	int64_t last_version;
	int upgrade;			/* format 1 replayed: rewrite it */
	int64_t legacy_seq;		/* versions of format 1 lines */
	int full_logged;
	atomic_uint_fast64_t refused;	/* REVOKE_FULL results */
	revoke_listener_fn *lfn;
	void *larg;
};

/* A change to apply to the table. */
struct revoke_mchange {
	char op;			/* '+', '-', or 0: drop the journal part */
	int64_t exp, version;
	enum revoke_source source;
	int pending, remote;
};

/* The table (revoke.c). Callers hold wmu; the *_table_* functions also
 * the write lock (lookups: a lock). */
uint64_t revoke_id_hash(const struct revoke_store *st, const char *id, size_t len);
ssize_t revoke_table_find(const struct revoke_store *st, uint64_t h, const char *id, size_t len);
void revoke_table_insert(struct revoke_store *st, uint64_t h, struct rentry *e);
void revoke_table_delete(struct revoke_store *st, size_t i);
struct rentry *revoke_rentry_new(const char *id, size_t len);
void revoke_bump_generation(struct revoke_store *st);
int revoke_entry_is_revoked(const struct rentry *e);
/* Set (or drop, op 0) the journal part of id; takes the write lock. */
void revoke_mem_set(struct revoke_store *st, const char *id, size_t len,
    const struct revoke_mchange *c);
/* The entry of id, or NULL; caller holds wmu. */
struct rentry *revoke_writer_get(const struct revoke_store *st, const char *id, size_t len);

/* Count e in (sign 1) or out of (sign -1) the entries from Redis. */
void revoke_remote_adjust(struct revoke_store *st, const struct rentry *e, int sign);

/* The journal (revoke_store.c). Callers hold wmu. */
int revoke_journal_append(struct revoke_store *st, const char *line, size_t len, int sync);
int revoke_format_line(char *buf, size_t cap, char op, const char *id, size_t len,
    int64_t exp, int64_t version, enum revoke_source src, int pending);
int revoke_compact_locked(struct revoke_store *st, time_t now);
void revoke_maybe_autocompact(struct revoke_store *st);

#endif
