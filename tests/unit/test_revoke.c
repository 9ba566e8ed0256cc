/* test_revoke.c: the revocation store: journal format and replay (torn
 * tail, corrupt line), compaction, reinstatement, the ids file, hostile
 * ids, the lock against a second process, a SIGKILL right after
 * revoke_add, the config section, the operator functions, learning from
 * policy effects, the listener and concurrent lookups; canonical ids,
 * sources, versions and merges, format 1 journals, pending marks, reloads
 * of the ids file and the bound on entries from Redis. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "errlist.h"
#include "jsonconf.h"
#include "policy.h"
#include "revoke.h"
#include "xmalloc.h"

static char tmpdir[] = "/tmp/test_revoke.XXXXXX";
static int file_seq;

/* A fresh path in the test folder. */
static char *
tpath(const char *name)
{
	char *p;

	xasprintf(&p, "%s/%d-%s", tmpdir, ++file_seq, name);
	return p;
}

static void
write_file(const char *path, const char *content)
{
	FILE *fp = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs(content, fp);
	fclose(fp);
}

/* The file's content (caller frees), "" when absent. */
static char *
read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = xcalloc(1, 1 << 20);

	if (fp != NULL) {
		size_t n = fread(buf, 1, (1 << 20) - 1, fp);
		buf[n] = '\0';
		fclose(fp);
	}
	return buf;
}

/* The change lines of a journal: the format 2 header is not one. */
static size_t
count_lines(const char *path)
{
	char *s = read_file(path);
	size_t n = 0;

	for (char *p = s; *p != '\0';) {
		char *nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		n += *p != '#';
		p = nl + 1;
	}
	free(s);
	return n;
}

static struct revoke_config
mkconfig(const char *journal, const char *ids)
{
	struct revoke_config rc = {
		.journal = (char *)journal,
		.ids_file = (char *)ids,
		.retention_s = 1000,
		.redis_key = (char *)"k",
		.redis_channel = (char *)"c",
		.redis_max_entries = 100000,
	};
	return rc;
}

static struct revoke_store *
open_store(const char *journal, const char *ids, struct errlist *errs)
{
	struct revoke_config rc = mkconfig(journal, ids);

	return revoke_store_open(&rc, errs);
}

static int
is_rev(const struct revoke_store *st, const char *id)
{
	return revoke_is_revoked(st, id, strlen(id));
}

static enum revoke_result
add(struct revoke_store *st, const char *id, int64_t exp)
{
	return revoke_add(st, id, strlen(id), exp);
}

static enum revoke_result
rem(struct revoke_store *st, const char *id)
{
	return revoke_remove(st, id, strlen(id));
}

/* A change from a peer; applied (may be NULL) says whether it was. */
static enum revoke_result
remote(struct revoke_store *st, char op, const char *id, int64_t exp, int64_t version,
    int *applied)
{
	struct revoke_change c = { .op = op, .id = id, .len = strlen(id), .expires_at = exp,
	    .version = version, .source = REVOKE_SRC_DELETE };

	return revoke_apply_remote(st, &c, applied);
}

/* The source an entry shows in GET /revocations, or NULL. */
static const char *
list_source(const struct revoke_store *st, const char *id)
{
	static char buf[32];
	json_t *l = revoke_list_json(st), *e;
	size_t i;
	const char *r = NULL;

	json_array_foreach(json_object_get(l, "revocations"), i, e) {
		if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0) {
			snprintf(buf, sizeof(buf), "%s",
			    json_string_value(json_object_get(e, "source")));
			r = buf;
		}
	}
	json_decref(l);
	return r;
}

/* Does some message of el contain needle? */
static int
errs_have(const struct errlist *el, const char *needle)
{
	for (size_t i = 0; i < el->n; i++)
		if (strstr(el->msgs[i], needle) != NULL)
			return 1;
	return 0;
}

struct collect {
	size_t n;
	char ops[16];
	char ids[16][64];
	int64_t exps[16];
};

static int
collect_cb(void *arg, const struct revoke_event *ev)
{
	struct collect *c = arg;

	if (c->n < 16) {
		c->ops[c->n] = ev->op;
		snprintf(c->ids[c->n], sizeof(c->ids[0]), "%.*s", (int)ev->len, ev->id);
		c->exps[c->n] = ev->expires_at;
	}
	c->n++;
	return 0;
}

static int
parse(const char *s, struct collect *c, size_t *used, struct errlist *el)
{
	memset(c, 0, sizeof(*c));
	return revoke_journal_parse(s, strlen(s), "j", collect_cb, c, used, el);
}

static void
test_ids(void)
{
	char big[SG_REVOKE_MAX_ID_BYTES + 2];

	memset(big, 'a', sizeof(big));
	CU_ASSERT_TRUE(revoke_id_valid("abc-DEF_123.~!", 14));
	CU_ASSERT_TRUE(revoke_id_valid(big, SG_REVOKE_MAX_ID_BYTES));
	CU_ASSERT_FALSE(revoke_id_valid(big, SG_REVOKE_MAX_ID_BYTES + 1));
	CU_ASSERT_FALSE(revoke_id_valid("", 0));
	CU_ASSERT_FALSE(revoke_id_valid(NULL, 3));
	CU_ASSERT_FALSE(revoke_id_valid("a b", 3));
	CU_ASSERT_FALSE(revoke_id_valid("a\tb", 3));
	CU_ASSERT_FALSE(revoke_id_valid("a\nb", 3));
	CU_ASSERT_FALSE(revoke_id_valid("a\0b", 3));
	CU_ASSERT_FALSE(revoke_id_valid("a\x7f", 2));
	CU_ASSERT_FALSE(revoke_id_valid("caf\xc3\xa9", 5));
}

static void
test_parse(void)
{
	struct collect c;
	struct errlist el;
	struct revoke_event ev;
	size_t used;

	errlist_init(&el);
	CU_ASSERT_EQUAL(parse("+ a 10\n- a\n+ b 9223372036854775807\n", &c, &used, &el), 0);
	CU_ASSERT_EQUAL(c.n, 3);
	CU_ASSERT_EQUAL(used, 35);
	CU_ASSERT_EQUAL(c.ops[0], '+');
	CU_ASSERT_STRING_EQUAL(c.ids[0], "a");
	CU_ASSERT_EQUAL(c.exps[0], 10);
	CU_ASSERT_EQUAL(c.ops[1], '-');
	CU_ASSERT_EQUAL(c.exps[2], INT64_MAX);

	/* Torn tail: complete lines are used, the rest is left. */
	CU_ASSERT_EQUAL(parse("+ a 10\n+ b 2", &c, &used, &el), 0);
	CU_ASSERT_EQUAL(c.n, 1);
	CU_ASSERT_EQUAL(used, 7);
	CU_ASSERT_EQUAL(parse("+ a 10\n- ", &c, &used, &el), 0);
	CU_ASSERT_EQUAL(used, 7);
	CU_ASSERT_EQUAL(el.n, 0);

	/* A corrupt complete line: error with its line number. */
	CU_ASSERT_EQUAL(parse("+ a 10\n+ b\n+ c 3\n", &c, &used, &el), -1);
	CU_ASSERT_EQUAL(el.n, 1);
	CU_ASSERT_TRUE(errs_have(&el, "j:2:"));
	CU_ASSERT_EQUAL(c.n, 1);
	errlist_free(&el);

	/* Each malformed line alone: refused, reported at line 1. */
	static const char *bad[] = {
		"\n", "+ a\n", "+ a 1 2\n", "+  a 1\n", "+ a  1\n", "* a 1\n", "+a 1\n",
		"- a 1\n", "-\n", "+ a -1\n", "+ a 01\n", "+ a 1x\n", "+ a 9223372036854775808\n",
		"+ a 1\r\n", "+ a\t1\n", "+ caf\xc3\xa9 1\n", "+ \x01 1\n", "- a b\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errlist_init(&el);
		CU_ASSERT_EQUAL(parse(bad[i], &c, &used, &el), -1);
		CU_ASSERT_EQUAL(el.n, 1);
		CU_ASSERT_TRUE(errs_have(&el, "j:1: "));
		CU_ASSERT_EQUAL(c.n, 0);
		errlist_free(&el);
	}

	CU_ASSERT_EQUAL(revoke_event_parse("+ x 0", 5, 1, &ev), 0);
	CU_ASSERT_EQUAL(ev.expires_at, 0);
	CU_ASSERT_EQUAL(ev.source, REVOKE_SRC_OPERATOR);
	CU_ASSERT_EQUAL(revoke_event_parse("- x", 3, 1, &ev), 0);
	CU_ASSERT_EQUAL(ev.op, '-');
	CU_ASSERT_EQUAL(ev.len, 1);
	CU_ASSERT_NOT_EQUAL(revoke_event_parse("- x\n", 4, 1, &ev), 0);

	/* Format 2: the header decides; every field checked. */
	errlist_init(&el);
	CU_ASSERT_EQUAL(parse(REVOKE_JOURNAL_HEADER "+ a 10 5 delete p\n- a 99 6 status\n"
	    "a a 5\n+ b 9223372036854775807 7 operator\n", &c, &used, &el), 0);
	CU_ASSERT_EQUAL(c.n, 4);
	CU_ASSERT_EQUAL(c.ops[2], 'a');
	CU_ASSERT_EQUAL(c.exps[1], 99);
	CU_ASSERT_EQUAL(el.n, 0);
	CU_ASSERT_EQUAL(revoke_event_parse("+ a 10 5 delete p", 17, 2, &ev), 0);
	CU_ASSERT_EQUAL(ev.version, 5);
	CU_ASSERT_EQUAL(ev.source, REVOKE_SRC_DELETE);
	CU_ASSERT_TRUE(ev.pending);
	static const char *bad2[] = {
		"+ a 10\n", "- a\n", "+ a 10 5\n", "+ a 10 5 file\n", "+ a 10 5 boss\n",
		"+ a 10 5 delete q\n", "+ a 10 5 delete p x\n", "+ a 10 -5 delete\n",
		"a a\n", "a a 5 6\n", "+ a 10  5 delete\n", "x a 1 2 status\n",
		"+ a 10 5 delete \n", "#scopegate-revocations 2\n",
	};
	for (size_t i = 0; i < sizeof(bad2) / sizeof(bad2[0]); i++) {
		char doc[128];
		snprintf(doc, sizeof(doc), "%s%s", REVOKE_JOURNAL_HEADER, bad2[i]);
		errlist_init(&el);
		CU_ASSERT_EQUAL(parse(doc, &c, &used, &el), -1);
		CU_ASSERT_TRUE(errs_have(&el, "j:2: "));
		errlist_free(&el);
	}
}

static void
test_replay(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_store *st;
	time_t now = time(NULL);
	char buf[256];

	snprintf(buf, sizeof(buf), "+ a %lld\n+ b %lld\n- a\n+ c %lld\n+ a %lld\n",
	    (long long)now + 100, (long long)now + 100, (long long)now + 100,
	    (long long)now + 200);
	write_file(j, buf);
	errlist_init(&el);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(el.n, 0);
	CU_ASSERT_TRUE(is_rev(st, "a"));
	CU_ASSERT_TRUE(is_rev(st, "b"));
	CU_ASSERT_TRUE(is_rev(st, "c"));
	CU_ASSERT_FALSE(is_rev(st, "d"));
	CU_ASSERT_TRUE(revoke_is_revoked(st, "ab", 1));	/* the length counts */
	CU_ASSERT_FALSE(revoke_is_revoked(st, "ab", 2));
	CU_ASSERT_EQUAL(revoke_count(st), 3);
	/* The dead lines were compacted away at open. */
	CU_ASSERT_EQUAL(count_lines(j), 3);
	revoke_store_close(st);

	/* Empty and missing journals open empty (and are created). */
	free(j);
	j = tpath("new-journal");
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(revoke_count(st), 0);
	CU_ASSERT_FALSE(is_rev(st, "a"));
	CU_ASSERT_EQUAL(access(j, F_OK), 0);
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
}

static void
test_torn_tail(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_store *st;
	char buf[256], *s;
	struct stat sb;
	long long exp = (long long)time(NULL) + 1000;

	snprintf(buf, sizeof(buf), "+ a %lld\n+ b %lld", exp, exp);
	write_file(j, buf);
	errlist_init(&el);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(el.n, 0);
	CU_ASSERT_TRUE(is_rev(st, "a"));
	CU_ASSERT_FALSE(is_rev(st, "b"));
	/* The torn line is gone (and the format 1 file rewritten). */
	CU_ASSERT_EQUAL(stat(j, &sb), 0);
	s = read_file(j);
	CU_ASSERT_EQUAL((size_t)sb.st_size, strlen(s));
	CU_ASSERT_PTR_NULL(strstr(s, "+ b "));
	free(s);
	CU_ASSERT_EQUAL(count_lines(j), 1);
	/* Appending afterwards yields a clean journal. */
	CU_ASSERT_EQUAL(add(st, "c", exp), REVOKE_OK);
	revoke_store_close(st);
	s = read_file(j);
	CU_ASSERT_EQUAL(strncmp(s, REVOKE_JOURNAL_HEADER, strlen(REVOKE_JOURNAL_HEADER)), 0);
	snprintf(buf, sizeof(buf), "+ a %lld ", exp);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, buf));
	snprintf(buf, sizeof(buf), "+ c %lld ", exp);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, buf));
	CU_ASSERT_EQUAL(count_lines(j), 2);
	free(s);
	/* A torn write in a format 2 journal is dropped the same way. */
	{
		FILE *f = fopen(j, "a");
		CU_ASSERT_FATAL(f != NULL);
		fputs("+ d 99999999999 17", f);
		fclose(f);
	}
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_TRUE(is_rev(st, "c"));
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
}

/* A read-only look (scopegate explain) while the owner holds the lock:
 * the same entries, a torn tail left alone, nothing written. */
static void
test_read_only(void)
{
	char *j = tpath("journal"), *ids = tpath("ids");
	struct errlist el;
	struct revoke_store *owner, *ro;
	struct revoke_config rc;
	char buf[256];
	struct stat before, after;
	long long exp = (long long)time(NULL) + 1000;

	write_file(ids, "listed\n");
	errlist_init(&el);
	rc = mkconfig(j, ids);
	/* No journal yet: empty, not an error. */
	ro = revoke_store_open_read_only(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ro);
	CU_ASSERT_TRUE(is_rev(ro, "listed"));
	CU_ASSERT_FALSE(is_rev(ro, "a"));
	CU_ASSERT_EQUAL(access(j, F_OK), -1);
	revoke_store_close(ro);
	owner = open_store(j, ids, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(owner);
	CU_ASSERT_EQUAL(add(owner, "a", exp), REVOKE_OK);
	/* A half-written line as the daemon may be appending it. */
	snprintf(buf, sizeof(buf), "+ b %lld", exp);
	{
		FILE *f = fopen(j, "a");
		CU_ASSERT_FATAL(f != NULL);
		fputs(buf, f);
		fclose(f);
	}
	CU_ASSERT_EQUAL(stat(j, &before), 0);
	ro = revoke_store_open_read_only(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ro);
	CU_ASSERT_EQUAL(el.n, 0);
	CU_ASSERT_TRUE(is_rev(ro, "a"));
	CU_ASSERT_FALSE(is_rev(ro, "b"));
	CU_ASSERT_TRUE(is_rev(ro, "listed"));
	revoke_store_close(ro);
	CU_ASSERT_EQUAL(stat(j, &after), 0);
	CU_ASSERT_EQUAL(before.st_size, after.st_size);
	revoke_store_close(owner);
	errlist_free(&el);
	unlink(ids);
	free(j);
	free(ids);
}

static void
test_corrupt_middle(void)
{
	char *j = tpath("journal");
	struct errlist el;
	char expect[512], *before, *after;

	write_file(j, "+ a 99999999999\n+ b x\n+ c 99999999999\n");
	before = read_file(j);
	errlist_init(&el);
	CU_ASSERT_PTR_NULL(open_store(j, NULL, &el));
	CU_ASSERT_EQUAL(el.n, 1);
	snprintf(expect, sizeof(expect), "%s:2: ", j);
	CU_ASSERT_TRUE(errs_have(&el, expect));
	/* Nothing was rewritten, and the lock was released. */
	after = read_file(j);
	CU_ASSERT_STRING_EQUAL(before, after);
	free(before);
	free(after);
	errlist_free(&el);

	/* A corrupt last line that is complete is not a torn write. */
	errlist_init(&el);
	write_file(j, "+ a 99999999999\n+ b\n");
	CU_ASSERT_PTR_NULL(open_store(j, NULL, &el));
	snprintf(expect, sizeof(expect), "%s:2: ", j);
	CU_ASSERT_TRUE(errs_have(&el, expect));
	errlist_free(&el);
	free(j);
}

static void
test_compaction(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_store *st;
	time_t now = time(NULL);
	uint64_t g;
	char *s, buf[256];

	errlist_init(&el);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(add(st, "keep1", now + 3000), REVOKE_OK);
	CU_ASSERT_EQUAL(add(st, "gone", now + 10), REVOKE_OK);
	CU_ASSERT_EQUAL(add(st, "keep2", now + 5000), REVOKE_OK);
	CU_ASSERT_EQUAL(add(st, "gone2", now + 50), REVOKE_OK);
	CU_ASSERT_EQUAL(rem(st, "gone2"), REVOKE_OK);
	CU_ASSERT_EQUAL(count_lines(j), 5);
	/* The tombstone of gone2 outlives the compaction at +100 ... */
	CU_ASSERT_EQUAL(revoke_compact(st, now + 100), 0);
	CU_ASSERT_EQUAL(count_lines(j), 3);
	/* ... not its retention (1000 s). */
	g = revoke_generation(st);
	CU_ASSERT_EQUAL(revoke_compact(st, now + 2000), 0);
	CU_ASSERT_NOT_EQUAL(revoke_generation(st), g);
	CU_ASSERT_TRUE(is_rev(st, "keep1"));
	CU_ASSERT_TRUE(is_rev(st, "keep2"));
	CU_ASSERT_FALSE(is_rev(st, "gone"));
	CU_ASSERT_EQUAL(revoke_count(st), 2);
	CU_ASSERT_EQUAL(count_lines(j), 2);
	s = read_file(j);
	snprintf(buf, sizeof(buf), "+ keep1 %lld ", (long long)now + 3000);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, buf));
	free(s);
	/* No temporary file is left behind. */
	s = NULL;
	xasprintf(&s, "%s.tmp", j);
	CU_ASSERT_NOT_EQUAL(access(s, F_OK), 0);
	free(s);
	/* The journal still takes appends after the rename. */
	CU_ASSERT_EQUAL(add(st, "later", now + 4000), REVOKE_OK);
	CU_ASSERT_EQUAL(count_lines(j), 3);
	/* Nothing to do: nothing changes. */
	g = revoke_generation(st);
	CU_ASSERT_EQUAL(revoke_compact(st, now + 2000), 0);
	CU_ASSERT_EQUAL(revoke_generation(st), g);
	revoke_store_close(st);

	/* Expired entries are dropped at open. */
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(revoke_count(st), 3);
	CU_ASSERT_EQUAL(add(st, "past", now - 5), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "past"));	/* until compacted */
	revoke_store_close(st);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_FALSE(is_rev(st, "past"));
	CU_ASSERT_TRUE(is_rev(st, "later"));
	CU_ASSERT_EQUAL(count_lines(j), 3);
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
}

static void
test_autocompact(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_store *st;
	time_t now = time(NULL);

	errlist_init(&el);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	/* Each later expiry is a new line; past the slack the journal is
	 * rewritten on its own. */
	for (int i = 1; i <= 1100; i++)
		CU_ASSERT_EQUAL(add(st, "again", now + 1000 + i), REVOKE_OK);
	CU_ASSERT_TRUE(count_lines(j) < 100);
	CU_ASSERT_TRUE(is_rev(st, "again"));
	revoke_store_close(st);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_TRUE(is_rev(st, "again"));
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
}

static void
test_reinstate(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_store *st;
	time_t now = time(NULL);
	uint64_t g;
	json_t *l;

	errlist_init(&el);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	g = revoke_generation(st);
	CU_ASSERT_EQUAL(add(st, "t1", now + 500), REVOKE_OK);
	CU_ASSERT_NOT_EQUAL(revoke_generation(st), g);
	CU_ASSERT_TRUE(is_rev(st, "t1"));
	/* Revoking again with an earlier expiry keeps the later one and
	 * writes nothing. */
	g = revoke_generation(st);
	CU_ASSERT_EQUAL(add(st, "t1", now + 100), REVOKE_OK);
	CU_ASSERT_EQUAL(revoke_generation(st), g);
	CU_ASSERT_EQUAL(count_lines(j), 1);
	l = revoke_list_json(st);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(
	    json_object_get(l, "revocations"), 0), "expires_at")), now + 500);
	json_decref(l);

	g = revoke_generation(st);
	CU_ASSERT_EQUAL(rem(st, "t1"), REVOKE_OK);
	CU_ASSERT_NOT_EQUAL(revoke_generation(st), g);
	CU_ASSERT_FALSE(is_rev(st, "t1"));
	CU_ASSERT_EQUAL(rem(st, "t1"), REVOKE_NOT_FOUND);
	CU_ASSERT_EQUAL(rem(st, "bad id"), REVOKE_INVALID_ID);
	CU_ASSERT_EQUAL(count_lines(j), 2);
	CU_ASSERT_EQUAL(add(st, "t2", 0), REVOKE_OK);
	revoke_store_close(st);

	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_FALSE(is_rev(st, "t1"));
	CU_ASSERT_TRUE(is_rev(st, "t2"));
	/* 0 means never: the token's own expiry is unknown and unbounded. */
	l = revoke_list_json(st);
	CU_ASSERT_TRUE(json_is_null(json_object_get(json_array_get(
	    json_object_get(l, "revocations"), 0), "expires_at")));
	json_decref(l);
	CU_ASSERT_EQUAL(revoke_compact(st, (time_t)now + 100L * 366 * 24 * 3600), 0);
	CU_ASSERT_TRUE(is_rev(st, "t2"));
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
}

static void
test_ids_file(void)
{
	char *j = tpath("journal"), *ids = tpath("ids"), *bad = tpath("bad-ids");
	struct errlist el;
	struct revoke_store *st;
	json_t *l, *e;
	char expect[512];

	write_file(ids, "# revoked for good\n\n  fixed-1  \nfixed-2 # leaked in a log\r\n"
	    "\t# indented comment\nshared\n");
	errlist_init(&el);
	st = open_store(j, ids, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(el.n, 0);
	CU_ASSERT_TRUE(is_rev(st, "fixed-1"));
	CU_ASSERT_TRUE(is_rev(st, "fixed-2"));
	CU_ASSERT_TRUE(is_rev(st, "shared"));
	CU_ASSERT_FALSE(is_rev(st, "#"));
	CU_ASSERT_FALSE(is_rev(st, "leaked"));
	CU_ASSERT_EQUAL(revoke_count(st), 3);
	/* Read-only: cannot be reinstated, and never compacted. */
	CU_ASSERT_EQUAL(rem(st, "fixed-1"), REVOKE_READONLY);
	CU_ASSERT_EQUAL(add(st, "shared", time(NULL) + 10), REVOKE_OK);
	CU_ASSERT_EQUAL(revoke_count(st), 3);
	CU_ASSERT_EQUAL(revoke_compact(st, time(NULL) + 100000), 0);
	CU_ASSERT_TRUE(is_rev(st, "fixed-1"));
	CU_ASSERT_TRUE(is_rev(st, "shared"));
	CU_ASSERT_EQUAL(count_lines(j), 0);
	l = revoke_list_json(st);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(l, "count")), 3);
	e = json_array_get(json_object_get(l, "revocations"), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "id")), "fixed-1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "source")), "file");
	CU_ASSERT_TRUE(json_is_null(json_object_get(e, "expires_at")));
	json_decref(l);
	revoke_store_close(st);

	/* Bad lines are all reported with file:line. */
	write_file(bad, "ok\nnot ok\n" "caf\xc3\xa9\nfine # c\n");
	CU_ASSERT_PTR_NULL(open_store(j, bad, &el));
	CU_ASSERT_EQUAL(el.n, 2);
	snprintf(expect, sizeof(expect), "%s:2: ", bad);
	CU_ASSERT_TRUE(errs_have(&el, expect));
	snprintf(expect, sizeof(expect), "%s:3: ", bad);
	CU_ASSERT_TRUE(errs_have(&el, expect));
	errlist_free(&el);

	/* A missing file is an error. */
	errlist_init(&el);
	CU_ASSERT_PTR_NULL(open_store(j, "/nonexistent/ids", &el));
	CU_ASSERT_TRUE(errs_have(&el, "/nonexistent/ids"));
	errlist_free(&el);
	free(j);
	free(ids);
	free(bad);
}

static void
test_hostile_ids(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_store *st;
	char big[SG_REVOKE_MAX_ID_BYTES + 1];
	static const char *bad[] = { "", "a b", "a\nb", "a\rb", "\x1b[31m", "caf\xc3\xa9",
		"x\x7f" };

	memset(big, 'z', sizeof(big));
	errlist_init(&el);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(add(st, bad[i], 0), REVOKE_INVALID_ID);
		CU_ASSERT_FALSE(is_rev(st, bad[i]));
	}
	CU_ASSERT_EQUAL(revoke_add(st, "a\0b", 3, 0), REVOKE_INVALID_ID);
	CU_ASSERT_EQUAL(revoke_add(st, big, sizeof(big), 0), REVOKE_INVALID_ID);
	CU_ASSERT_FALSE(revoke_is_revoked(st, big, sizeof(big)));
	CU_ASSERT_EQUAL(revoke_add(st, big, sizeof(big) - 1, 0), REVOKE_OK);
	CU_ASSERT_TRUE(revoke_is_revoked(st, big, sizeof(big) - 1));
	/* A journal-injection attempt: nothing reached the file but the
	 * one valid line. */
	CU_ASSERT_EQUAL(add(st, "x 1\n+ y", 0), REVOKE_INVALID_ID);
	CU_ASSERT_EQUAL(count_lines(j), 1);
	/* Many ids: the table grows and keeps them all. */
	for (int i = 0; i < 5000; i++) {
		char id[32];
		snprintf(id, sizeof(id), "many-%d", i);
		remote(st, '+', id, time(NULL) + 100, 1, NULL);
	}
	CU_ASSERT_EQUAL(revoke_count(st), 5001);
	for (int i = 0; i < 5000; i += 7) {
		char id[32];
		snprintf(id, sizeof(id), "many-%d", i);
		CU_ASSERT_TRUE(is_rev(st, id));
		CU_ASSERT_EQUAL(rem(st, id), REVOKE_OK);
		CU_ASSERT_FALSE(is_rev(st, id));
	}
	for (int i = 1; i < 5000; i += 7) {
		char id[32];
		snprintf(id, sizeof(id), "many-%d", i);
		CU_ASSERT_TRUE(is_rev(st, id));
	}
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
}

static void
test_lock(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_store *a, *b;

	errlist_init(&el);
	a = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	b = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_TRUE(errs_have(&el, "in use by another process"));
	revoke_store_close(b);
	revoke_store_close(a);
	errlist_free(&el);
	errlist_init(&el);
	b = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL(b);
	revoke_store_close(b);
	errlist_free(&el);
	free(j);
}

/* A process revokes and is SIGKILLed the moment revoke_add returns; the
 * next open must see the id. */
static void
test_crash(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_store *st;
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CU_ASSERT_TRUE_FATAL(pid >= 0);
	if (pid == 0) {
		struct errlist cel;
		errlist_init(&cel);
		st = open_store(j, NULL, &cel);
		if (st == NULL)
			_exit(3);
		if (add(st, "crash-victim", 0) != REVOKE_OK)
			_exit(4);
		kill(getpid(), SIGKILL);
		_exit(5);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	errlist_init(&el);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_TRUE(is_rev(st, "crash-victim"));
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
}

/* Parse a "revocations" section; NULL on error. */
static struct revoke_config *
config(const char *text, struct errlist *el)
{
	struct jsonconf jc = { .file = "cfg.json", .errs = el };
	json_t *v = text ? jsonconf_load_buffer(&jc, text, strlen(text)) : NULL;
	struct revoke_config *rc;

	if (text != NULL && v == NULL)
		return NULL;
	rc = revoke_config_parse(&jc, v, "/revocations", "/etc/sg");
	json_decref(v);
	return rc;
}

static void
test_config(void)
{
	struct errlist el;
	struct revoke_config *rc;

	errlist_init(&el);
	rc = config(NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rc);
	CU_ASSERT_PTR_NULL(rc->journal);
	CU_ASSERT_PTR_NULL(rc->redis_host);
	CU_ASSERT_EQUAL(rc->retention_s, SG_DEFAULT_REVOKE_RETENTION_S);
	CU_ASSERT_STRING_EQUAL(rc->redis_key, SG_DEFAULT_REVOKE_REDIS_KEY);
	CU_ASSERT_STRING_EQUAL(rc->redis_channel, SG_DEFAULT_REVOKE_REDIS_CHANNEL);
	revoke_config_free(rc);

	rc = config("{\"journal\": \"state/rev.journal\", \"ids_file\": \"/abs/ids\", "
	    "\"retention_s\": 60, \"redis\": \"redis://10.0.0.1:6380/2\", "
	    "\"redis_key\": \"k1\", \"redis_channel\": \"c1\"}", &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rc);
	CU_ASSERT_STRING_EQUAL(rc->journal, "/etc/sg/state/rev.journal");
	CU_ASSERT_STRING_EQUAL(rc->ids_file, "/abs/ids");
	CU_ASSERT_EQUAL(rc->retention_s, 60);
	CU_ASSERT_STRING_EQUAL(rc->redis_host, "10.0.0.1");
	CU_ASSERT_EQUAL(rc->redis_port, 6380);
	CU_ASSERT_EQUAL(rc->redis_db, 2);
	CU_ASSERT_STRING_EQUAL(rc->redis_key, "k1");
	CU_ASSERT_STRING_EQUAL(rc->redis_channel, "c1");
	{
		struct revoke_config *d = revoke_config_dup(rc);
		CU_ASSERT_STRING_EQUAL(d->redis_host, "10.0.0.1");
		CU_ASSERT_PTR_NOT_EQUAL(d->redis_host, rc->redis_host);
		revoke_config_free(d);
	}
	revoke_config_free(rc);

	rc = config("{\"redis\": \"redis://[::1]\"}", &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rc);
	CU_ASSERT_STRING_EQUAL(rc->redis_host, "::1");
	CU_ASSERT_EQUAL(rc->redis_port, 6379);
	revoke_config_free(rc);
	CU_ASSERT_EQUAL(el.n, 0);

	/* Every problem, at its pointer. */
	CU_ASSERT_PTR_NULL(config("{\"journal\": \"\", \"retention_s\": 0, \"redis\": "
	    "\"http://x\", \"redis_key\": \"a b\", \"bogus\": 1}", &el));
	CU_ASSERT_TRUE(errs_have(&el, "/revocations/bogus"));
	errlist_free(&el);
	errlist_init(&el);
	CU_ASSERT_PTR_NULL(config("{\"journal\": \"\", \"retention_s\": 0, \"redis\": "
	    "\"http://x\", \"redis_key\": \"a b\"}", &el));
	CU_ASSERT_EQUAL(el.n, 4);
	CU_ASSERT_TRUE(errs_have(&el, "cfg.json: /revocations/journal: "));
	CU_ASSERT_TRUE(errs_have(&el, "/revocations/retention_s: "));
	CU_ASSERT_TRUE(errs_have(&el, "/revocations/redis: "));
	CU_ASSERT_TRUE(errs_have(&el, "/revocations/redis_key: "));
	errlist_free(&el);

	/* The Redis password: from a 0600 file, one line; anything else is
	 * refused at its pointer. */
	{
		char dir[] = "/tmp/test_revoke_pw.XXXXXX", good[128], open_[128], two[128], js[512];
		FILE *f;

		CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
		snprintf(good, sizeof(good), "%s/good", dir);
		snprintf(open_, sizeof(open_), "%s/open", dir);
		snprintf(two, sizeof(two), "%s/two", dir);
		CU_ASSERT_FATAL((f = fopen(good, "w")) != NULL);
		fputs("s3cret\n", f);
		fclose(f);
		CU_ASSERT_FATAL((f = fopen(open_, "w")) != NULL);
		fputs("s3cret\n", f);
		fclose(f);
		CU_ASSERT_FATAL((f = fopen(two, "w")) != NULL);
		fputs("a\nb\n", f);
		fclose(f);
		chmod(good, 0600);
		chmod(open_, 0644);
		chmod(two, 0600);
		errlist_init(&el);
		snprintf(js, sizeof(js), "{\"redis\": \"redis://127.0.0.1\", "
		    "\"redis_password_file\": \"%s\"}", good);
		rc = config(js, &el);
		CU_ASSERT_PTR_NOT_NULL_FATAL(rc);
		CU_ASSERT_STRING_EQUAL(rc->redis_password, "s3cret");
		{
			struct revoke_config *d = revoke_config_dup(rc);
			CU_ASSERT_STRING_EQUAL(d->redis_password, "s3cret");
			revoke_config_free(d);
		}
		revoke_config_free(rc);
		snprintf(js, sizeof(js), "{\"redis_password_file\": \"%s\"}", open_);
		CU_ASSERT_PTR_NULL(config(js, &el));
		CU_ASSERT_TRUE(errs_have(&el, "/revocations/redis_password_file: "));
		CU_ASSERT_TRUE(errs_have(&el, "group or others"));
		errlist_free(&el);
		errlist_init(&el);
		snprintf(js, sizeof(js), "{\"redis_password_file\": \"%s\"}", two);
		CU_ASSERT_PTR_NULL(config(js, &el));
		CU_ASSERT_TRUE(errs_have(&el, "one password on one line"));
		errlist_free(&el);
		unlink(good);
		unlink(open_);
		unlink(two);
		rmdir(dir);
	}

	static const char *bad_urls[] = { "redis://", "redis://h:0", "redis://h:70000",
		"redis://h:x", "redis://u:p@h", "redis://h/x", "redis://[::1", "redis://h:1x",
		"redis://h?x", "redis://[zz]" };
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		char buf[128];
		errlist_init(&el);
		snprintf(buf, sizeof(buf), "{\"redis\": \"%s\"}", bad_urls[i]);
		CU_ASSERT_PTR_NULL(config(buf, &el));
		CU_ASSERT_TRUE(errs_have(&el, "/revocations/redis: "));
		errlist_free(&el);
	}
	errlist_init(&el);
	CU_ASSERT_PTR_NULL(config("{\"journal\": 3}", &el));
	CU_ASSERT_TRUE(errs_have(&el, "/revocations/journal"));
	CU_ASSERT_PTR_NULL(config("{\"redis_max_entries\": 0}", &el));
	CU_ASSERT_TRUE(errs_have(&el, "/revocations/redis_max_entries"));
	errlist_free(&el);

	/* What a reload cannot apply: named, everything else is fine. */
	{
		struct revoke_config *a, *b;
		const char *names[4];
		errlist_init(&el);
		a = config("{\"journal\": \"j\", \"redis\": \"redis://h\", \"ids_file\": \"x\", "
		    "\"retention_s\": 5, \"redis_max_entries\": 7}", &el);
		b = config("{\"journal\": \"j\", \"redis\": \"redis://h\", \"ids_file\": \"y\", "
		    "\"retention_s\": 6}", &el);
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		CU_ASSERT_TRUE(a->present);
		CU_ASSERT_EQUAL(a->redis_max_entries, 7);
		CU_ASSERT_EQUAL(b->redis_max_entries, SG_DEFAULT_REVOKE_REDIS_MAX_ENTRIES);
		CU_ASSERT_EQUAL(revoke_config_restart_needed(a, b, names, 4), 0);
		revoke_config_free(b);
		b = config("{\"journal\": \"k\", \"redis\": \"redis://h2\", "
		    "\"redis_channel\": \"c2\"}", &el);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		CU_ASSERT_EQUAL(revoke_config_restart_needed(a, b, names, 4), 3);
		CU_ASSERT_STRING_EQUAL(names[0], "revocations.journal");
		CU_ASSERT_STRING_EQUAL(names[1], "revocations.redis");
		CU_ASSERT_STRING_EQUAL(names[2], "revocations.redis_channel");
		CU_ASSERT_EQUAL(revoke_config_restart_needed(a, b, names, 1), 1);
		revoke_config_free(b);
		b = config(NULL, &el);
		CU_ASSERT_FALSE(b->present);
		CU_ASSERT_EQUAL(revoke_config_restart_needed(a, b, names, 4), 2);
		revoke_config_free(b);
		revoke_config_free(a);
		CU_ASSERT_EQUAL(el.n, 0);
		errlist_free(&el);
	}
}

static void
test_admin(void)
{
	char *j = tpath("journal"), *ids = tpath("ids");
	struct errlist el;
	struct revoke_store *st;
	json_t *r = NULL;
	char body[128];

	write_file(ids, "from-file\n");
	errlist_init(&el);
	st = open_store(j, ids, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);

#define POST(s) revoke_admin_post(st, (s), strlen(s), &r)
	CU_ASSERT_EQUAL(POST("{\"id\": \"op-1\"}"), 201);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "id")), "op-1");
	json_decref(r);
	CU_ASSERT_TRUE(is_rev(st, "op-1"));
	snprintf(body, sizeof(body), "{\"id\": \"op-2\", \"expires_at\": %lld}",
	    (long long)time(NULL) + 77);
	CU_ASSERT_EQUAL(POST(body), 201);
	json_decref(r);
	CU_ASSERT_TRUE(is_rev(st, "op-2"));
	static const char *bad[] = { "", "[]", "{", "{\"id\": 3}", "{\"id\": \"a b\"}",
		"{\"id\": \"\"}", "{\"id\": \"x\", \"expires_at\": -1}",
		"{\"id\": \"x\", \"expires_at\": \"1\"}", "{\"id\": \"x\", \"other\": 1}",
		"{\"id\": \"x\", \"id\": \"y\"}", "{\"id\": \"x\\u0000y\"}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(POST(bad[i]), 400);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "type")),
		    "BadRequest");
		json_decref(r);
	}
	CU_ASSERT_FALSE(is_rev(st, "x"));
	CU_ASSERT_EQUAL(revoke_admin_post(st, NULL, 0, &r), 400);
	json_decref(r);
#undef POST

	CU_ASSERT_EQUAL(revoke_admin_list(st, &r), 200);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "count")), 3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(
	    json_object_get(r, "revocations"), 1), "id")), "op-1");
	json_decref(r);

	CU_ASSERT_EQUAL(revoke_admin_delete(st, "op-1", 4, &r), 204);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_FALSE(is_rev(st, "op-1"));
	CU_ASSERT_EQUAL(revoke_admin_delete(st, "op-1", 4, &r), 404);
	json_decref(r);
	CU_ASSERT_EQUAL(revoke_admin_delete(st, "op%2D2", 6, &r), 204);	/* %2D is '-' */
	CU_ASSERT_FALSE(is_rev(st, "op-2"));
	CU_ASSERT_EQUAL(revoke_admin_delete(st, "from-file", 9, &r), 409);
	json_decref(r);
	CU_ASSERT_EQUAL(revoke_admin_delete(st, "a%20b", 5, &r), 400);
	json_decref(r);
	CU_ASSERT_EQUAL(revoke_admin_delete(st, "a%2", 3, &r), 400);
	json_decref(r);
	CU_ASSERT_EQUAL(revoke_admin_delete(st, "a%zz", 4, &r), 400);
	json_decref(r);
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
	free(ids);
}

/* A matched action with one effect on its second parameter. */
static void
fake_match(struct policy_action *a, struct policy_effect *e, struct policy_match *m,
    enum policy_effect_on on, const char *param)
{
	memset(a, 0, sizeof(*a));
	memset(m, 0, sizeof(*m));
	e->on = on;
	e->param = 1;
	e->param_name = "apiTokenId";
	a->name = (char *)"applicationApiToken.x";
	a->effects = e;
	a->neffects = 1;
	a->nparams = 2;
	m->status = POLICY_MATCH_OK;
	m->action = a;
	m->nparams = 2;
	m->params[0].ptr = "5f0000000000000000000001";
	m->params[0].len = 24;
	m->params[1].ptr = param;
	m->params[1].len = strlen(param);
}

static enum revoke_op
plan(enum policy_effect_on on, const char *param, const char *body,
    struct revoke_intent *in)
{
	struct policy_action a;
	struct policy_effect e;
	struct policy_match m;

	fake_match(&a, &e, &m, on, param);
	return revoke_learn_plan(&m, body, body ? strlen(body) : 0, in);
}

static void
test_learn(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_store *st;
	struct revoke_intent in;
	struct policy_match none;

	errlist_init(&el);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);

	CU_ASSERT_EQUAL(plan(POLICY_EFFECT_DELETE, "tok-del", NULL, &in), REVOKE_OP_REVOKE);
	CU_ASSERT_STRING_EQUAL(in.id, "tok-del");
	CU_ASSERT_EQUAL(in.len, 7);
	/* Only a 2xx answer counts. */
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 404), REVOKE_OK);
	CU_ASSERT_FALSE(is_rev(st, "tok-del"));
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 500), REVOKE_OK);
	CU_ASSERT_FALSE(is_rev(st, "tok-del"));
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "tok-del"));
	CU_ASSERT_EQUAL(count_lines(j), 1);
	/* Learnt again (a DELETE repeated): held already, nothing written. */
	CU_ASSERT_TRUE(revoke_holds(st, "tok-del", 7, REVOKE_SRC_DELETE));
	CU_ASSERT_TRUE(revoke_holds(st, "tok-del", 7, REVOKE_SRC_STATUS));
	CU_ASSERT_FALSE(revoke_holds(st, "tok-del", 7, REVOKE_SRC_OPERATOR));
	CU_ASSERT_FALSE(revoke_holds(st, "tok-other", 9, REVOKE_SRC_STATUS));
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_EQUAL(count_lines(j), 1);
	/* A status change learnt first, then a deletion: the stronger source
	 * is written (a status change could undo the first). */
	CU_ASSERT_EQUAL(plan(POLICY_EFFECT_PATCH_STATUS, "tok-up", "{\"status\":\"inactive\"}",
	    &in), REVOKE_OP_REVOKE);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_EQUAL(count_lines(j), 2);
	CU_ASSERT_FALSE(revoke_holds(st, "tok-up", 6, REVOKE_SRC_DELETE));
	CU_ASSERT_EQUAL(plan(POLICY_EFFECT_DELETE, "tok-up", NULL, &in), REVOKE_OP_REVOKE);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_EQUAL(count_lines(j), 3);
	CU_ASSERT_TRUE(revoke_holds(st, "tok-up", 6, REVOKE_SRC_DELETE));
	CU_ASSERT_EQUAL(plan(POLICY_EFFECT_DELETE, "tok-del", NULL, &in), REVOKE_OP_REVOKE);

	CU_ASSERT_EQUAL(plan(POLICY_EFFECT_PATCH_STATUS, "tok-p",
	    "{\"status\": \"inactive\", \"description\": \"x\"}", &in), REVOKE_OP_REVOKE);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "tok-p"));
	CU_ASSERT_EQUAL(plan(POLICY_EFFECT_PATCH_STATUS, "tok-p", "{\"status\":\"active\"}",
	    &in), REVOKE_OP_REINSTATE);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 400), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "tok-p"));
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 204), REVOKE_OK);
	CU_ASSERT_FALSE(is_rev(st, "tok-p"));
	/* Reinstating what is not revoked is fine. */
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);

	static const char *nothing[] = { NULL, "", "{\"status\": \"pending\"}",
		"{\"description\": \"x\"}", "{\"status\": false}", "[\"inactive\"]",
		"{\"status\": \"inactive\"", "{\"status\":\"inactive\",\"status\":\"active\"}",
		"{\"status\": \"INACTIVE\"}" };
	for (size_t i = 0; i < sizeof(nothing) / sizeof(nothing[0]); i++) {
		CU_ASSERT_EQUAL(plan(POLICY_EFFECT_PATCH_STATUS, "tok-q", nothing[i], &in),
		    REVOKE_OP_NONE);
		CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	}
	CU_ASSERT_FALSE(is_rev(st, "tok-q"));

	/* The parameter is percent-decoded; ids that cannot be stored are
	 * not planned. */
	CU_ASSERT_EQUAL(plan(POLICY_EFFECT_DELETE, "a%7Eb", NULL, &in), REVOKE_OP_REVOKE);
	CU_ASSERT_STRING_EQUAL(in.id, "a~b");
	CU_ASSERT_EQUAL(plan(POLICY_EFFECT_DELETE, "a%20b", NULL, &in), REVOKE_OP_NONE);
	CU_ASSERT_EQUAL(plan(POLICY_EFFECT_DELETE, "a%2", NULL, &in), REVOKE_OP_NONE);

	/* No match, no action: nothing. */
	memset(&none, 0, sizeof(none));
	none.status = POLICY_MATCH_NO_ROUTE;
	CU_ASSERT_EQUAL(revoke_learn_plan(&none, NULL, 0, &in), REVOKE_OP_NONE);
	CU_ASSERT_EQUAL(revoke_learn_plan(NULL, NULL, 0, &in), REVOKE_OP_NONE);
	CU_ASSERT_EQUAL(revoke_learn_apply(NULL, &in, 200), REVOKE_OK);
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
}

struct heard {
	int n;
	char op;
	char id[64];
	int64_t exp;
	int64_t version;
	enum revoke_source source;
};

static void
listener(void *arg, const struct revoke_change *c)
{
	struct heard *h = arg;

	h->n++;
	h->op = c->op;
	snprintf(h->id, sizeof(h->id), "%.*s", (int)c->len, c->id);
	h->exp = c->expires_at;
	h->version = c->version;
	h->source = c->source;
}

static void
test_listener(void)
{
	struct errlist el;
	struct revoke_store *st;
	struct heard h = { 0 };
	struct revoke_entry *v;
	int64_t v1;
	size_t n;

	errlist_init(&el);
	st = open_store(NULL, NULL, &el);	/* memory only */
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	revoke_store_set_listener(st, listener, &h);
	CU_ASSERT_EQUAL(add(st, "l1", 12345678901), REVOKE_OK);
	CU_ASSERT_EQUAL(h.n, 1);
	CU_ASSERT_EQUAL(h.op, '+');
	CU_ASSERT_STRING_EQUAL(h.id, "l1");
	CU_ASSERT_EQUAL(h.exp, 12345678901);
	CU_ASSERT_EQUAL(h.source, REVOKE_SRC_OPERATOR);
	v1 = h.version;
	CU_ASSERT_EQUAL(rem(st, "l1"), REVOKE_OK);
	CU_ASSERT_EQUAL(h.n, 2);
	CU_ASSERT_EQUAL(h.op, '-');
	CU_ASSERT_TRUE(h.version > v1);
	/* Changes from peers are not echoed back. */
	CU_ASSERT_EQUAL(remote(st, '+', "r1", 12345678901, h.version + 1, NULL), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "r1"));
	CU_ASSERT_EQUAL(remote(st, '-', "r1", 12345678901, h.version + 2, NULL), REVOKE_OK);
	CU_ASSERT_FALSE(is_rev(st, "r1"));
	CU_ASSERT_EQUAL(h.n, 2);
	CU_ASSERT_EQUAL(add(st, "s1", 12345678901), REVOKE_OK);
	/* A local version is newer than any seen, from peers too. */
	CU_ASSERT_TRUE(h.version > v1 + 2);
	revoke_store_set_listener(st, NULL, NULL);
	CU_ASSERT_EQUAL(add(st, "s2", 12345678901), REVOKE_OK);
	CU_ASSERT_EQUAL(h.n, 3);

	/* Revocations and tombstones. */
	n = revoke_snapshot(st, 0, &v);
	CU_ASSERT_EQUAL(n, 4);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].id, "s1") == 0 || strcmp(v[i].id, "s2") == 0) {
			CU_ASSERT_EQUAL(v[i].op, '+');
			CU_ASSERT_EQUAL(v[i].expires_at, 12345678901);
		} else
			CU_ASSERT_EQUAL(v[i].op, '-');
	}
	revoke_snapshot_free(v, n);
	revoke_store_close(st);
	errlist_free(&el);
}

/* The rule, written plainly: visible ASCII only, and an id of 24 hex
 * digits in either case is lowered. */
static size_t
canon_ref(const char *id, size_t len, char *out)
{
	int hex = len == 24;

	if (!revoke_id_valid(id, len))
		return 0;
	for (size_t i = 0; i < len; i++)
		hex = hex && strchr("0123456789abcdefABCDEF", id[i]) != NULL && id[i] != '\0';
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(hex && id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
	return len;
}

/* Every byte value at every position of a hex id and of an opaque one,
 * lengths around 24 and at the limit; in place and into another buffer:
 * the same answer as the plain rule. */
static void
canon_every_byte(void)
{
	static const char *const bases[] = { "6B16aa00BB11cc22DD33ee44", "tok-ABC_def.123~xyz!4567" };
	char in[SG_REVOKE_MAX_ID_BYTES + 1], got[SG_REVOKE_MAX_ID_BYTES + 1];
	char want[SG_REVOKE_MAX_ID_BYTES + 1];
	size_t lens[] = { 1, 23, 24, 25, SG_REVOKE_MAX_ID_BYTES, SG_REVOKE_MAX_ID_BYTES + 1 };
	int bad = 0;

	for (size_t b = 0; b < 2; b++)
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
			for (size_t pos = 0; pos < lens[l]; pos += lens[l] > 30 ? 37 : 1)
				for (int c = 0; c < 256; c++) {
					size_t n = lens[l], w, g, g2;

					for (size_t i = 0; i < n; i++)
						in[i] = bases[b][i % 24];
					in[pos] = (char)c;
					w = canon_ref(in, n, want);
					g = revoke_id_canon(in, n, got);
					if (g != w || (w > 0 && memcmp(got, want, w) != 0))
						bad++;
					g2 = revoke_id_canon(in, n, in);	/* in place */
					if (g2 != w || (w > 0 && memcmp(in, want, w) != 0))
						bad++;
				}
	CU_ASSERT_EQUAL(bad, 0);
}

/* One canonical form: a 24-hex-digit id in lower case, whatever spelling
 * stored it and whatever spelling looks it up; other ids byte for byte. */
static void
test_canon(void)
{
	static const char lower[] = "6b16aa00bb11cc22dd33ee44", upper[] = "6B16AA00BB11CC22DD33EE44",
	    mixed[] = "6b16Aa00bB11cC22Dd33eE44";
	const char *sp[] = { lower, upper, mixed };
	char out[SG_REVOKE_MAX_ID_BYTES], *j = tpath("journal"), *ids = tpath("ids");
	struct errlist el;
	struct revoke_store *st;
	json_t *r;

	CU_ASSERT_EQUAL(revoke_id_canon(upper, 24, out), 24);
	CU_ASSERT_EQUAL(memcmp(out, lower, 24), 0);
	/* Not 24 hex digits: left alone. */
	CU_ASSERT_EQUAL(revoke_id_canon("ABCDEF", 6, out), 6);
	CU_ASSERT_EQUAL(memcmp(out, "ABCDEF", 6), 0);
	CU_ASSERT_EQUAL(revoke_id_canon("6B16AA00BB11CC22DD33EE4G", 24, out), 24);
	CU_ASSERT_EQUAL(memcmp(out, "6B16AA00BB11CC22DD33EE4G", 24), 0);
	CU_ASSERT_EQUAL(revoke_id_canon("6B16AA00BB11CC22DD33EE445", 25, out), 25);
	CU_ASSERT_EQUAL(out[1], 'B');
	CU_ASSERT_EQUAL(revoke_id_canon("a b", 3, out), 0);
	canon_every_byte();

	errlist_init(&el);
	/* Every spelling stored x every spelling looked up; through add,
	 * the admin API, the API's delete and a peer. */
	for (size_t a = 0; a < 3; a++) {
		for (int how = 0; how < 4; how++) {
			struct revoke_intent in;
			char body[96];
			free(j);
			j = tpath("journal");
			st = open_store(j, NULL, &el);
			CU_ASSERT_PTR_NOT_NULL_FATAL(st);
			switch (how) {
			case 0:
				CU_ASSERT_EQUAL(add(st, sp[a], 0), REVOKE_OK);
				break;
			case 1:
				snprintf(body, sizeof(body), "{\"id\": \"%s\"}", sp[a]);
				CU_ASSERT_EQUAL(revoke_admin_post(st, body, strlen(body), &r), 201);
				CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "id")),
				    lower);
				json_decref(r);
				break;
			case 2:
				CU_ASSERT_EQUAL(plan(POLICY_EFFECT_DELETE, sp[a], NULL, &in),
				    REVOKE_OP_REVOKE);
				CU_ASSERT_STRING_EQUAL(in.id, lower);
				CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
				break;
			case 3:
				CU_ASSERT_EQUAL(remote(st, '+', sp[a], 0 + REVOKE_NEVER, 5, NULL),
				    REVOKE_OK);
				break;
			}
			for (size_t b = 0; b < 3; b++)
				CU_ASSERT_TRUE(is_rev(st, sp[b]));
			revoke_store_close(st);
			/* ... and after a replay of the journal. */
			st = open_store(j, NULL, &el);
			CU_ASSERT_PTR_NOT_NULL_FATAL(st);
			for (size_t b = 0; b < 3; b++)
				CU_ASSERT_TRUE(is_rev(st, sp[b]));
			/* Reinstated through any spelling. */
			CU_ASSERT_EQUAL(revoke_admin_delete(st, sp[(a + 1) % 3], 24, &r), 204);
			for (size_t b = 0; b < 3; b++)
				CU_ASSERT_FALSE(is_rev(st, sp[b]));
			revoke_store_close(st);
		}
	}
	/* The ids file and a format 1 journal in upper case. */
	write_file(ids, "6B16AA00BB11CC22DD33EE44\n");
	free(j);
	j = tpath("journal");
	write_file(j, "+ 5F0C0C0C0C0C0C0C0C0C0C0C 99999999999\n");
	st = open_store(j, ids, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_TRUE(is_rev(st, lower));
	CU_ASSERT_TRUE(is_rev(st, "5f0c0c0c0c0c0c0c0c0c0c0c"));
	CU_ASSERT_TRUE(is_rev(st, "5F0c0C0c0C0c0C0c0C0c0C0c"));
	CU_ASSERT_EQUAL(revoke_admin_delete(st, mixed, 24, &r), 409);
	json_decref(r);
	revoke_store_close(st);
	CU_ASSERT_EQUAL(el.n, 0);
	errlist_free(&el);
	unlink(ids);
	free(ids);
	free(j);
}

/* Who revoked decides who may reinstate. */
static void
test_sources(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_store *st;
	struct revoke_intent in;
	json_t *r;

	errlist_init(&el);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	/* A status change undoes a status change. */
	plan(POLICY_EFFECT_PATCH_STATUS, "s-1", "{\"status\":\"inactive\"}", &in);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_STRING_EQUAL(list_source(st, "s-1"), "status");
	plan(POLICY_EFFECT_PATCH_STATUS, "s-1", "{\"status\":\"active\"}", &in);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_FALSE(is_rev(st, "s-1"));

	/* ... not an operator's revocation, nor a deletion. */
	CU_ASSERT_EQUAL(add(st, "op-1", 0), REVOKE_OK);
	plan(POLICY_EFFECT_DELETE, "del-1", NULL, &in);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_STRING_EQUAL(list_source(st, "del-1"), "delete");
	CU_ASSERT_STRING_EQUAL(list_source(st, "op-1"), "operator");
	plan(POLICY_EFFECT_PATCH_STATUS, "op-1", "{\"status\":\"active\"}", &in);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "op-1"));
	CU_ASSERT_EQUAL(revoke_remove_src(st, "del-1", 5, REVOKE_SRC_STATUS), REVOKE_FORBIDDEN);
	CU_ASSERT_TRUE(is_rev(st, "del-1"));

	/* A status revocation an operator confirms becomes the operator's. */
	plan(POLICY_EFFECT_PATCH_STATUS, "s-2", "{\"status\":\"inactive\"}", &in);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_EQUAL(add(st, "s-2", 0), REVOKE_OK);
	CU_ASSERT_STRING_EQUAL(list_source(st, "s-2"), "operator");
	/* ... and a status revocation after an operator's keeps it. */
	plan(POLICY_EFFECT_PATCH_STATUS, "op-1", "{\"status\":\"inactive\"}", &in);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_STRING_EQUAL(list_source(st, "op-1"), "operator");
	revoke_store_close(st);

	/* The sources survive a restart. */
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_STRING_EQUAL(list_source(st, "op-1"), "operator");
	CU_ASSERT_STRING_EQUAL(list_source(st, "del-1"), "delete");
	plan(POLICY_EFFECT_PATCH_STATUS, "s-2", "{\"status\":\"active\"}", &in);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "s-2"));
	/* Operators reinstate anything in the journal. */
	CU_ASSERT_EQUAL(revoke_admin_delete(st, "del-1", 5, &r), 204);
	CU_ASSERT_EQUAL(revoke_admin_delete(st, "op-1", 4, &r), 204);
	CU_ASSERT_FALSE(is_rev(st, "del-1"));
	CU_ASSERT_FALSE(is_rev(st, "op-1"));
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
}

/* A journal written by the previous version (format 1) loads: its
 * entries are an operator's, its order is kept, and it is rewritten in
 * format 2. */
static void
test_format1(void)
{
	char *j = tpath("journal"), *s, *fixture;
	struct errlist el;
	struct revoke_store *st;
	struct revoke_intent in;

	/* The fixture shipped for the fuzz corpus, as the old daemon wrote
	 * it. */
	xasprintf(&fixture, "cp '%s/fuzz/corpus/revoke_journal/format1-journal' '%s'",
	    getenv("top_srcdir") ? getenv("top_srcdir") : "..", j);
	CU_ASSERT_EQUAL_FATAL(system(fixture), 0);
	free(fixture);
	errlist_init(&el);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(el.n, 0);
	CU_ASSERT_TRUE(is_rev(st, "5f2222222222222222222222"));
	CU_ASSERT_TRUE(is_rev(st, "ops-42"));
	CU_ASSERT_FALSE(is_rev(st, "gone-1"));	/* "+" then "-" */
	CU_ASSERT_TRUE(is_rev(st, "back-1"));	/* "-" then "+" again */
	CU_ASSERT_STRING_EQUAL(list_source(st, "ops-42"), "operator");
	/* Not something a status change can undo. */
	plan(POLICY_EFFECT_PATCH_STATUS, "5F2222222222222222222222", "{\"status\":\"active\"}",
	    &in);
	CU_ASSERT_EQUAL(revoke_learn_apply(st, &in, 200), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "5f2222222222222222222222"));
	revoke_store_close(st);
	s = read_file(j);
	CU_ASSERT_EQUAL(strncmp(s, REVOKE_JOURNAL_HEADER, strlen(REVOKE_JOURNAL_HEADER)), 0);
	free(s);
	st = open_store(j, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_TRUE(is_rev(st, "ops-42"));
	CU_ASSERT_TRUE(is_rev(st, "back-1"));
	CU_ASSERT_FALSE(is_rev(st, "gone-1"));
	revoke_store_close(st);
	errlist_free(&el);
	free(j);
}

/* Merges keep the newest version; a revocation wins a tie; changes not
 * yet in Redis stay marked across a restart. */
static void
test_versions(void)
{
	char *j = tpath("journal");
	struct errlist el;
	struct revoke_config rc = mkconfig(j, NULL);
	struct revoke_store *st;
	struct revoke_entry *v;
	struct heard h = { 0 };
	int applied;
	size_t n;
	int64_t ver;
	char *s;

	rc.redis_host = (char *)"127.0.0.1";	/* pending marks, no link */
	errlist_init(&el);
	st = revoke_store_open(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	revoke_store_set_listener(st, listener, &h);
	/* The issue's sequence: revoke, reinstate, revoke again; an old
	 * tombstone arriving afterwards (Redis after an outage) loses. */
	CU_ASSERT_EQUAL(add(st, "o-1", 0), REVOKE_OK);
	CU_ASSERT_EQUAL(rem(st, "o-1"), REVOKE_OK);
	ver = h.version;
	CU_ASSERT_EQUAL(add(st, "o-1", 0), REVOKE_OK);
	CU_ASSERT_EQUAL(remote(st, '-', "o-1", time(NULL) + 100, ver, &applied), REVOKE_OK);
	CU_ASSERT_FALSE(applied);
	CU_ASSERT_TRUE(is_rev(st, "o-1"));
	/* A tie: the revocation wins, from either side. */
	CU_ASSERT_EQUAL(remote(st, '-', "o-1", time(NULL) + 100, h.version, &applied), REVOKE_OK);
	CU_ASSERT_FALSE(applied);
	CU_ASSERT_TRUE(is_rev(st, "o-1"));
	CU_ASSERT_EQUAL(rem(st, "o-1"), REVOKE_OK);
	CU_ASSERT_EQUAL(remote(st, '+', "o-1", REVOKE_NEVER, h.version, &applied), REVOKE_OK);
	CU_ASSERT_TRUE(applied);
	CU_ASSERT_TRUE(is_rev(st, "o-1"));
	/* A newer tombstone from a peer reinstates. */
	CU_ASSERT_EQUAL(remote(st, '-', "o-1", time(NULL) + 100, h.version + 10, &applied),
	    REVOKE_OK);
	CU_ASSERT_TRUE(applied);
	CU_ASSERT_FALSE(is_rev(st, "o-1"));
	/* A tombstone for an id never held stores nothing. */
	CU_ASSERT_EQUAL(remote(st, '-', "never", time(NULL) + 100, 1, &applied), REVOKE_OK);
	CU_ASSERT_FALSE(applied);

	/* Local changes are pending until Redis acknowledges them. */
	CU_ASSERT_EQUAL(add(st, "p-1", 0), REVOKE_OK);
	CU_ASSERT_EQUAL(add(st, "p-2", 0), REVOKE_OK);
	revoke_mark_pushed(st, "p-2", 3, h.version);
	revoke_mark_pushed(st, "p-1", 3, h.version);	/* not p-1's version: no */
	revoke_store_close(st);
	s = read_file(j);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\na p-2 "));
	free(s);
	st = revoke_store_open(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	n = revoke_snapshot(st, 1, &v);
	{
		int p1 = 0, p2 = 0;
		for (size_t i = 0; i < n; i++) {
			p1 |= strcmp(v[i].id, "p-1") == 0;
			p2 |= strcmp(v[i].id, "p-2") == 0;
		}
		CU_ASSERT_TRUE(p1);
		CU_ASSERT_FALSE(p2);
	}
	revoke_snapshot_free(v, n);
	/* The compaction keeps the marks. */
	CU_ASSERT_EQUAL(revoke_compact(st, time(NULL) + 1000000), 0);
	revoke_store_close(st);
	st = revoke_store_open(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	n = revoke_snapshot(st, 1, &v);
	CU_ASSERT_EQUAL(n, 1);
	if (n == 1)
		CU_ASSERT_STRING_EQUAL(v[0].id, "p-1");
	revoke_snapshot_free(v, n);
	CU_ASSERT_TRUE(is_rev(st, "p-1"));
	CU_ASSERT_TRUE(is_rev(st, "p-2"));
	revoke_store_close(st);
	CU_ASSERT_EQUAL(el.n, 0);
	errlist_free(&el);
	free(j);
}

/* At most redis_max_entries entries come from peers. */
static void
test_remote_bound(void)
{
	struct errlist el;
	struct revoke_config rc = mkconfig(NULL, NULL);
	struct revoke_store *st;

	rc.redis_max_entries = 3;
	errlist_init(&el);
	st = revoke_store_open(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(remote(st, '+', "m-1", REVOKE_NEVER, 1, NULL), REVOKE_OK);
	CU_ASSERT_EQUAL(remote(st, '+', "m-2", REVOKE_NEVER, 1, NULL), REVOKE_OK);
	CU_ASSERT_EQUAL(remote(st, '+', "m-3", REVOKE_NEVER, 1, NULL), REVOKE_OK);
	CU_ASSERT_EQUAL(remote(st, '+', "m-4", REVOKE_NEVER, 1, NULL), REVOKE_FULL);
	CU_ASSERT_FALSE(is_rev(st, "m-4"));
	CU_ASSERT_EQUAL(revoke_remote_refused(st), 1);
	/* Those were learnt from an API (a tenant deleting tokens of its
	 * own): they cannot crowd out an operator's revocation, bounded on
	 * its own. */
	{
		struct revoke_change c = { .op = '+', .id = "op-1", .len = 4,
		    .expires_at = REVOKE_NEVER, .version = 1, .source = REVOKE_SRC_OPERATOR };
		for (int i = 0; i < 3; i++) {
			char id[8];
			snprintf(id, sizeof(id), "op-%d", i + 1);
			c.id = id;
			CU_ASSERT_EQUAL(revoke_apply_remote(st, &c, NULL), REVOKE_OK);
			CU_ASSERT_TRUE(is_rev(st, id));
		}
		c.id = "op-4";
		CU_ASSERT_EQUAL(revoke_apply_remote(st, &c, NULL), REVOKE_FULL);
		CU_ASSERT_EQUAL(revoke_remote_count(st), 6);
		CU_ASSERT_EQUAL(revoke_remote_refused(st), 2);
	}
	/* Updates of held entries and local revocations are not bounded. */
	CU_ASSERT_EQUAL(remote(st, '+', "m-3", REVOKE_NEVER, 2, NULL), REVOKE_OK);
	CU_ASSERT_EQUAL(add(st, "local", 0), REVOKE_OK);
	CU_ASSERT_EQUAL(revoke_count(st), 7);
	/* Room again once one goes. */
	CU_ASSERT_EQUAL(rem(st, "m-1"), REVOKE_OK);
	CU_ASSERT_EQUAL(revoke_compact(st, time(NULL) + 100000), 0);
	CU_ASSERT_EQUAL(remote(st, '+', "m-4", REVOKE_NEVER, 1, NULL), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "m-4"));
	revoke_store_close(st);
	errlist_free(&el);
}

/* The version of id's journal part, or -1. */
static int64_t
version_of(const struct revoke_store *st, const char *id)
{
	struct revoke_entry *v = NULL;
	size_t n = revoke_snapshot(st, 0, &v);
	int64_t ver = -1;

	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			ver = v[i].version;
	revoke_snapshot_free(v, n);
	return ver;
}

/* A change from Redis dated far ahead (INT64_MAX: anyone who can write
 * the state hash): a reinstatement is refused, a revocation kept but
 * dated at the bound; otherwise every later local version overflowed.
 * One a little ahead (a peer's clock) is taken, and local versions go on
 * after it. */
static void
test_future_version(void)
{
	struct errlist el;
	struct revoke_config rc = mkconfig(NULL, NULL);
	struct revoke_store *st;
	int64_t ahead = ((int64_t)time(NULL) + 3600) * 1000000;

	errlist_init(&el);
	st = revoke_store_open(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(remote(st, '+', "far", REVOKE_NEVER, INT64_MAX, NULL), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "far"));
	CU_ASSERT_TRUE(version_of(st, "far") <=
	    ((int64_t)time(NULL) + SG_REVOKE_MAX_VERSION_AHEAD_S) * 1000000);
	CU_ASSERT_EQUAL(add(st, "after", 0), REVOKE_OK);
	CU_ASSERT_TRUE(version_of(st, "after") > 0);
	CU_ASSERT_TRUE(version_of(st, "after") > version_of(st, "far"));
	/* A reinstatement dated past the bound does not lift "after". */
	CU_ASSERT_NOT_EQUAL(remote(st, '-', "after", time(NULL) + 100, INT64_MAX, NULL), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "after"));
	CU_ASSERT_EQUAL(revoke_remote_refused(st), 1);
	CU_ASSERT_EQUAL(remote(st, '+', "near", REVOKE_NEVER, ahead, NULL), REVOKE_OK);
	CU_ASSERT_TRUE(is_rev(st, "near"));
	CU_ASSERT_EQUAL(add(st, "later", 0), REVOKE_OK);
	CU_ASSERT_TRUE(version_of(st, "later") > ahead);
	revoke_store_close(st);
	errlist_free(&el);
}

/* The journal expiry of id ('+' or '-' in *op), or -1 when not held. */
static int64_t
expiry_of(const struct revoke_store *st, const char *id, char *op)
{
	struct revoke_entry *v;
	size_t n = revoke_snapshot(st, 0, &v);
	int64_t exp = -1;

	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0) {
			exp = v[i].expires_at;
			if (op != NULL)
				*op = v[i].op;
		}
	revoke_snapshot_free(v, n);
	return exp;
}

/* With a bound on token lifetimes (token_life_s), revocations of unknown
 * expiry last that long (plus the relearn slack), and whatever Redis
 * claims is capped at now + the bound; without one, as before. */
static void
test_lifetime_bound(void)
{
	char *j = tpath("journal-life");
	struct errlist el;
	struct revoke_config rc = mkconfig(j, NULL);
	struct revoke_store *st;
	int64_t t0, t1, far;
	char op = 0;
	int applied = 0;

	unlink(j);
	rc.token_life_s = 1000;
	rc.retention_s = 100;
	errlist_init(&el);
	st = revoke_store_open(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	t0 = time(NULL);
	/* Learnt (delete, status) and an operator's without expires_at. */
	CU_ASSERT_EQUAL(revoke_add_src(st, "l-del", 5, 0, REVOKE_SRC_DELETE), REVOKE_OK);
	CU_ASSERT_EQUAL(revoke_add_src(st, "l-sta", 5, 0, REVOKE_SRC_STATUS), REVOKE_OK);
	CU_ASSERT_EQUAL(add(st, "l-op", 0), REVOKE_OK);
	t1 = time(NULL);
	static const char *const learnt[] = { "l-del", "l-sta", "l-op" };
	for (size_t i = 0; i < 3; i++) {
		int64_t e = expiry_of(st, learnt[i], NULL);
		CU_ASSERT(e >= t0 + 1000 + 60 && e <= t1 + 1000 + 60);
	}
	/* Learnt again within the slack: held, no journal write. */
	CU_ASSERT_TRUE(revoke_holds(st, "l-del", 5, REVOKE_SRC_DELETE));
	CU_ASSERT_TRUE(revoke_holds(st, "l-del", 5, REVOKE_SRC_STATUS));
	CU_ASSERT_FALSE(revoke_holds(st, "l-sta", 5, REVOKE_SRC_DELETE));
	/* An operator's explicit expiry is the operator's. */
	far = t0 + 1000000000;
	CU_ASSERT_EQUAL(add(st, "l-exp", far), REVOKE_OK);
	CU_ASSERT_EQUAL(expiry_of(st, "l-exp", NULL), far);
	/* From Redis: 2^63 - 1, and any expiry past the bound, is capped;
	 * one within it is kept. */
	t0 = time(NULL);
	CU_ASSERT_EQUAL(remote(st, '+', "r-max", INT64_MAX, 10, &applied), REVOKE_OK);
	CU_ASSERT_TRUE(applied);
	CU_ASSERT_EQUAL(remote(st, '+', "r-far", t0 + 5000, 10, NULL), REVOKE_OK);
	CU_ASSERT_EQUAL(remote(st, '+', "r-near", t0 + 20, 10, NULL), REVOKE_OK);
	t1 = time(NULL);
	CU_ASSERT(expiry_of(st, "r-max", &op) >= t0 + 1000);
	CU_ASSERT(expiry_of(st, "r-max", &op) <= t1 + 1000);
	CU_ASSERT_EQUAL(op, '+');
	CU_ASSERT(expiry_of(st, "r-far", NULL) <= t1 + 1000);
	CU_ASSERT_EQUAL(expiry_of(st, "r-near", NULL), t0 + 20);
	CU_ASSERT_TRUE(is_rev(st, "r-max"));
	/* GET /revocations shows the capped expiry, not null (never). */
	{
		json_t *l = revoke_list_json(st), *e;
		size_t i;
		int seen = 0;

		json_array_foreach(json_object_get(l, "revocations"), i, e)
			if (strcmp(json_string_value(json_object_get(e, "id")), "r-max") == 0) {
				seen = 1;
				CU_ASSERT_TRUE(json_is_integer(json_object_get(e, "expires_at")));
				CU_ASSERT(json_integer_value(json_object_get(e, "expires_at")) <=
				    t1 + 1000);
			}
		CU_ASSERT_TRUE(seen);
		json_decref(l);
	}
	/* A tombstone from Redis: capped at the larger of the bound and
	 * retention_s. */
	t0 = time(NULL);
	CU_ASSERT_EQUAL(remote(st, '-', "r-far", INT64_MAX, 11, &applied), REVOKE_OK);
	CU_ASSERT_TRUE(applied);
	t1 = time(NULL);
	CU_ASSERT(expiry_of(st, "r-far", &op) >= t0 + 1000);
	CU_ASSERT(expiry_of(st, "r-far", &op) <= t1 + 1000);
	CU_ASSERT_EQUAL(op, '-');
	CU_ASSERT_FALSE(is_rev(st, "r-far"));
	/* The capped expiries are what the journal holds: a restart keeps
	 * them, nothing comes back as 2^63. */
	int64_t capped = expiry_of(st, "r-max", NULL);
	revoke_store_close(st);
	st = revoke_store_open(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(expiry_of(st, "r-max", NULL), capped);
	CU_ASSERT_TRUE(is_rev(st, "r-max"));
	/* Once the bound has passed, compaction drops them. */
	CU_ASSERT_EQUAL(revoke_compact(st, t1 + 1000 + 61), 0);
	CU_ASSERT_FALSE(is_rev(st, "r-max"));
	CU_ASSERT_FALSE(is_rev(st, "l-del"));
	CU_ASSERT_FALSE(is_rev(st, "l-op"));
	CU_ASSERT_TRUE(is_rev(st, "l-exp"));
	revoke_store_close(st);
	unlink(j);

	/* Without a bound: for ever, and Redis's expiry as sent. */
	rc.token_life_s = 0;
	st = revoke_store_open(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(revoke_add_src(st, "n-del", 5, 0, REVOKE_SRC_DELETE), REVOKE_OK);
	CU_ASSERT_EQUAL(expiry_of(st, "n-del", NULL), REVOKE_NEVER);
	CU_ASSERT_TRUE(revoke_holds(st, "n-del", 5, REVOKE_SRC_DELETE));
	CU_ASSERT_EQUAL(remote(st, '+', "n-max", INT64_MAX, 10, NULL), REVOKE_OK);
	CU_ASSERT_EQUAL(expiry_of(st, "n-max", NULL), INT64_MAX);
	/* A reload brings a bound: held entries keep their expiry (a token
	 * accepted without the bound may live for ever), new ones get it,
	 * and so does what Redis sends from then on. */
	rc.token_life_s = 1000;
	CU_ASSERT_EQUAL(revoke_store_reload(st, &rc, &el), 0);
	CU_ASSERT_EQUAL(expiry_of(st, "n-del", NULL), REVOKE_NEVER);
	CU_ASSERT_EQUAL(expiry_of(st, "n-max", NULL), INT64_MAX);
	t0 = time(NULL);
	CU_ASSERT_EQUAL(revoke_add_src(st, "b-del", 5, 0, REVOKE_SRC_DELETE), REVOKE_OK);
	CU_ASSERT_EQUAL(remote(st, '+', "b-max", INT64_MAX, 10, NULL), REVOKE_OK);
	t1 = time(NULL);
	CU_ASSERT(expiry_of(st, "b-del", NULL) >= t0 + 1060 &&
	    expiry_of(st, "b-del", NULL) <= t1 + 1060);
	CU_ASSERT(expiry_of(st, "b-max", NULL) <= t1 + 1000);
	/* A shorter bound: nothing held is shortened (tokens accepted under
	 * the old bound may still verify). */
	int64_t before = expiry_of(st, "b-del", NULL);
	rc.token_life_s = 10;
	CU_ASSERT_EQUAL(revoke_store_reload(st, &rc, &el), 0);
	CU_ASSERT_EQUAL(expiry_of(st, "b-del", NULL), before);
	CU_ASSERT_EQUAL(expiry_of(st, "n-del", NULL), REVOKE_NEVER);
	t0 = time(NULL);
	CU_ASSERT_EQUAL(remote(st, '+', "c-max", INT64_MAX, 10, NULL), REVOKE_OK);
	CU_ASSERT(expiry_of(st, "c-max", NULL) <= time(NULL) + 10);
	CU_ASSERT(expiry_of(st, "c-max", NULL) >= t0 + 10);
	revoke_store_close(st);
	CU_ASSERT_EQUAL(el.n, 0);
	errlist_free(&el);
	unlink(j);
	free(j);
}

/* A reload reads the ids file again: added, removed, journal untouched;
 * a bad file changes nothing. */
static void
test_reload(void)
{
	char *j = tpath("journal"), *ids = tpath("ids"), *ids2 = tpath("ids2");
	struct errlist el;
	struct revoke_config rc = mkconfig(j, ids), rc2;
	struct revoke_store *st;

	write_file(ids, "f-1\nboth\n");
	errlist_init(&el);
	st = revoke_store_open(&rc, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(add(st, "both", 0), REVOKE_OK);
	CU_ASSERT_EQUAL(add(st, "j-1", 0), REVOKE_OK);
	write_file(ids, "f-2\n");
	CU_ASSERT_EQUAL(revoke_store_reload(st, &rc, &el), 0);
	CU_ASSERT_FALSE(is_rev(st, "f-1"));
	CU_ASSERT_TRUE(is_rev(st, "f-2"));
	CU_ASSERT_TRUE(is_rev(st, "both"));	/* still in the journal */
	CU_ASSERT_TRUE(is_rev(st, "j-1"));
	CU_ASSERT_EQUAL(revoke_count(st), 3);
	/* Another file; then a bad one: refused, nothing changed. */
	write_file(ids2, "f-3\n");
	rc2 = mkconfig(j, ids2);
	CU_ASSERT_EQUAL(revoke_store_reload(st, &rc2, &el), 0);
	CU_ASSERT_FALSE(is_rev(st, "f-2"));
	CU_ASSERT_TRUE(is_rev(st, "f-3"));
	write_file(ids2, "f-4\nnot valid\n");
	CU_ASSERT_EQUAL(revoke_store_reload(st, &rc2, &el), -1);
	CU_ASSERT_TRUE(errs_have(&el, ":2: "));
	CU_ASSERT_TRUE(is_rev(st, "f-3"));
	CU_ASSERT_FALSE(is_rev(st, "f-4"));
	/* No ids file any more. */
	rc2.ids_file = NULL;
	CU_ASSERT_EQUAL(revoke_store_reload(st, &rc2, &el), 0);
	CU_ASSERT_FALSE(is_rev(st, "f-3"));
	CU_ASSERT_EQUAL(revoke_count(st), 2);
	revoke_store_close(st);
	errlist_free(&el);
	unlink(ids);
	unlink(ids2);
	free(ids);
	free(ids2);
	free(j);
}

struct reader_arg {
	struct revoke_store *st;
	volatile int *stop;
	long hits;
	int bad;
};

static void *
reader(void *p)
{
	struct reader_arg *a = p;

	while (!*a->stop) {
		/* "base" is revoked before the readers start and never
		 * removed: a miss would be a broken table. */
		if (!revoke_is_revoked(a->st, "base", 4))
			a->bad = 1;
		a->hits += revoke_is_revoked(a->st, "w-10", 4);
	}
	return NULL;
}

static void
test_concurrent(void)
{
	struct errlist el;
	struct revoke_store *st;
	struct reader_arg args[4];
	pthread_t th[4];
	volatile int stop = 0;
	uint64_t g0;

	errlist_init(&el);
	st = open_store(NULL, NULL, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(add(st, "base", 0), REVOKE_OK);
	g0 = revoke_generation(st);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){ .st = st, .stop = &stop };
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	/* Enough adds to grow the table several times under the readers. */
	for (int i = 0; i < 2000; i++) {
		char id[32];
		snprintf(id, sizeof(id), "w-%d", i);
		CU_ASSERT_EQUAL(add(st, id, 0), REVOKE_OK);
		if (i % 3 == 0)
			CU_ASSERT_EQUAL(rem(st, id), REVOKE_OK);
	}
	stop = 1;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_FALSE(args[i].bad);
	}
	CU_ASSERT_EQUAL(revoke_generation(st) - g0, 2000 + 667);
	CU_ASSERT_TRUE(is_rev(st, "w-10"));
	CU_ASSERT_FALSE(is_rev(st, "w-9"));
	CU_ASSERT_TRUE(is_rev(st, "w-1999"));
	revoke_store_close(st);
	errlist_free(&el);
}

static int
cleanup_tmp(void)
{
	char *cmd;

	if (getenv("KEEP_TMP") != NULL)
		return 0;
	xasprintf(&cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	free(cmd);
	return 0;
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("revoke", NULL, cleanup_tmp);
	CU_add_test(s, "id rules", test_ids);
	CU_add_test(s, "journal line parser", test_parse);
	CU_add_test(s, "replay", test_replay);
	CU_add_test(s, "torn tail is dropped and truncated", test_torn_tail);
	CU_add_test(s, "read-only look beside the owner", test_read_only);
	CU_add_test(s, "corrupt middle line refused with file:line", test_corrupt_middle);
	CU_add_test(s, "compaction keeps unexpired entries", test_compaction);
	CU_add_test(s, "automatic compaction", test_autocompact);
	CU_add_test(s, "reinstate and retention", test_reinstate);
	CU_add_test(s, "ids file", test_ids_file);
	CU_add_test(s, "hostile ids", test_hostile_ids);
	CU_add_test(s, "one process per journal", test_lock);
	CU_add_test(s, "SIGKILL right after revoke_add", test_crash);
	CU_add_test(s, "config section", test_config);
	CU_add_test(s, "operator functions", test_admin);
	CU_add_test(s, "learning from policy effects", test_learn);
	CU_add_test(s, "listener and remote changes", test_listener);
	CU_add_test(s, "concurrent lookups", test_concurrent);
	CU_add_test(s, "one canonical id form", test_canon);
	CU_add_test(s, "who revoked decides who reinstates", test_sources);
	CU_add_test(s, "format 1 journal loads", test_format1);
	CU_add_test(s, "versions, merges and pending marks", test_versions);
	CU_add_test(s, "bound on entries from Redis", test_remote_bound);
	CU_add_test(s, "reload of the ids file", test_reload);
	CU_add_test(s, "versions from Redis far ahead are refused", test_future_version);
	CU_add_test(s, "bound on token lifetimes", test_lifetime_bound);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails != 0;
}
