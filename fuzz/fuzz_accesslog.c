/* fuzz_accesslog.c: the access-log line for arbitrary field bytes. The
 * input is split at newlines into method, path, subject and client
 * certificate subject (the fields a client chooses). The line must be
 * whole (every field present), valid UTF-8 JSON (jansson checks the
 * encoding: no overlong forms, surrogates or bytes past U+10FFFF), hold no
 * raw control byte but its final newline, and give back a short printable
 * ASCII path exactly. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "accesslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *f[4] = {NULL, NULL, NULL, NULL};
	char line[ACCESSLOG_LINE_MAX];
	struct accesslog_entry e = {.request_id = "0123456789abcdef0123456789abcdef",
	    .client = "127.0.0.1:1", .status = 400};
	json_error_t err;
	json_t *j;
	size_t n, plen;
	int ascii = 1;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	f[0] = s;
	for (int i = 1; i < 4 && f[i - 1] != NULL; i++)
		if ((f[i] = strchr(f[i - 1], '\n')) != NULL)
			*f[i]++ = '\0';
	e.method = f[0];
	e.path = f[1];
	e.subject = f[2];
	e.client_cert_subject = f[3];
	e.client_cert_sha256 = f[3];
	n = accesslog_format(&e, line, sizeof(line));
	if (n < 2 || line[n - 1] != '\n' || line[n - 2] != '}')
		abort();
	for (size_t i = 0; i + 1 < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			abort();
	if ((j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &err)) == NULL)
		abort();
	if (json_object_size(j) != (f[3] != NULL ? 18u : 16u))
		abort();
	plen = f[1] != NULL ? strlen(f[1]) : 0;
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)f[1][i] < 0x20 || (unsigned char)f[1][i] >= 0x7f)
			ascii = 0;
	if (f[1] != NULL && ascii && plen < ACCESSLOG_PATH_MAX / 2 &&
	    strcmp(json_string_value(json_object_get(j, "path")), f[1]) != 0)
		abort();
	json_decref(j);
	free(s);
	return 0;
}
