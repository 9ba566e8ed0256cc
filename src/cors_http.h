/* cors_http.h: the evhttp glue of CORS (cors.h): preflights answered by
 * the gateway, and the CORS fields of every other answer. */
#ifndef SCOPEGATE_CORS_HTTP_H
#define SCOPEGATE_CORS_HTTP_H

struct evkeyvalq;
struct proxy_req;

/* When CORS is configured and the request is a preflight (OPTIONS with
 * Origin and Access-Control-Request-Method), answer it (204, or the
 * refusal) without a token and return 1: it is never forwarded. Returns 0
 * for every other request. */
int cors_http_preflight(struct proxy_req *pr);

/* For an answer (the upstream's or the gateway's own error) to a request
 * whose action has a CORS rule: the gateway's CORS fields replace the
 * upstream's, Vary: Origin always, Access-Control-Allow-Origin when the
 * Origin is allowed. Nothing for actions without a rule. */
void cors_http_reply_headers(struct proxy_req *pr, struct evkeyvalq *out);

#endif
