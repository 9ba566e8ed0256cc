/* framing.c: see framing.h. Moved out of worker.c's check_framing so the
 * request-path fuzz target runs the very same checks. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "chars.h"
#include "framing.h"

/* Set the refusal and return -1. */
static int
refuse(int *status, const char **type, const char **message, int st, const char *ty,
    const char *msg)
{
	*status = st;
	*type = ty;
	*message = msg;
	return -1;
}

int
framing_check(const struct evkeyvalq *in, int major, int minor, enum evhttp_cmd_type cmd,
    struct framing_info *out, int *status, const char **type, const char **message)
{
	int ncl = 0, nte = 0, te_ok = 1, nhost = 0, nctype = 0;
	struct evkeyval *kv;
	const char *cl = NULL;

	memset(out, 0, sizeof(*out));
	*status = 0;
	*type = NULL;
	*message = NULL;
	if (major != 1 || minor > 1)
		return refuse(status, type, message, 505, "HTTPVersionNotSupported",
		    "Only HTTP/1.0 and HTTP/1.1 are supported");
	TAILQ_FOREACH(kv, in, next) {
		/* Each name below has its own length: one comparison a field
		 * at most, not up to eight. */
		size_t klen = strlen(kv->key);

		if (!chars_is_token(kv->key))
			return refuse(status, type, message, 400, "BadRequest",
			    "Invalid header field name");
		/* The gateway's own namespace: a client sending one is
		 * trying to pass for the gateway (to the upstream, or to a
		 * gateway in front of it). */
		if ((kv->key[0] == 'X' || kv->key[0] == 'x') &&
		    strncasecmp(kv->key, "X-Scopegate-", 12) == 0)
			return refuse(status, type, message, 400, "BadRequest",
			    "X-Scopegate-* header fields are reserved for the gateway");
		/* The fields later steps need, found in this one pass. */
		if (klen == 13 && strcasecmp(kv->key, "Authorization") == 0) {
			out->authorization = kv->value;
			out->nauthorization++;
		} else if (klen == 12 && strcasecmp(kv->key, "Content-Type") == 0) {
			out->content_type = kv->value;
			nctype++;
		} else if (klen == 4 && strcasecmp(kv->key, "Host") == 0) {
			out->host = kv->value;
			nhost++;
		} else if (klen == 10 && strcasecmp(kv->key, "Connection") == 0) {
			if (out->connection == NULL)
				out->connection = kv->value;
			out->nconnection++;
		} else if (klen == 15 && strcasecmp(kv->key, "X-Forwarded-For") == 0) {
			out->forwarded_for = kv->value;
			out->nforwarded_for++;
		} else if (klen == 14 && strcasecmp(kv->key, "Content-Length") == 0) {
			ncl++;
			cl = kv->value;
		} else if (klen == 16 && strcasecmp(kv->key, "Content-Encoding") == 0) {
			out->content_encoding = kv->value;
			out->ncontent_encoding++;
		} else if (klen == 17 && strcasecmp(kv->key, "Transfer-Encoding") == 0) {
			const char *v = kv->value;
			size_t n;
			nte++;
			while (*v == ' ' || *v == '\t')
				v++;
			n = strlen(v);
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n != 7 || strncasecmp(v, "chunked", 7) != 0)
				te_ok = 0;
		}
	}
	/* RFC 9112 3.2: more than one Host is a 400. Two Content-Types
	 * would let the gateway check the body as one type and the upstream
	 * read it as the other. */
	if (nhost > 1)
		return refuse(status, type, message, 400, "BadRequest", "Duplicate Host");
	if (nctype > 1)
		return refuse(status, type, message, 400, "BadRequest", "Duplicate Content-Type");
	/* RFC 9112 6.3: both framings at once is the classic smuggling
	 * vector; so are two lengths. */
	out->framed = nte > 0 || ncl > 0;
	if (nte > 0 && ncl > 0)
		return refuse(status, type, message, 400, "BadRequest",
		    "Content-Length and Transfer-Encoding together are not allowed");
	if (ncl > 1)
		return refuse(status, type, message, 400, "BadRequest", "Duplicate Content-Length");
	if (cl != NULL && (cl[0] == '\0' || strspn(cl, "0123456789") != strlen(cl)))
		return refuse(status, type, message, 400, "BadRequest", "Invalid Content-Length");
	if (nte > 1 || !te_ok || (nte > 0 && minor == 0))
		return refuse(status, type, message, 501, "NotImplemented",
		    "Only the chunked transfer coding is supported");
	/* libevent reads no body for HEAD: a body there would be taken for
	 * the next request. */
	if ((nte > 0 || (cl != NULL && strspn(cl, "0") != strlen(cl))) && cmd == EVHTTP_REQ_HEAD)
		return refuse(status, type, message, 400, "BadRequest",
		    "A body is not allowed with HEAD");
	/* RFC 9112 3.2: an HTTP/1.1 request without Host is a 400 too (the
	 * upstream would otherwise get the gateway's idea of it). */
	if (nhost == 0 && minor >= 1)
		return refuse(status, type, message, 400, "BadRequest", "Missing Host");
	return 0;
}

size_t
framing_chunk_line(uint64_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char digits[16];
	size_t nd = 0, len = 0;

	out[0] = '\0';
	if (n == 0)
		return 0;
	for (; n > 0; n >>= 4)
		digits[nd++] = hex[n & 15];
	while (nd > 0)
		out[len++] = digits[--nd];
	out[len++] = '\r';
	out[len++] = '\n';
	out[len] = '\0';
	return len;
}
