/* fuzz_qredact.c: query redaction on arbitrary bytes. The output never
 * holds a byte of a listed parameter's value, is never longer than the
 * buffer, and with room to spare it is the input when nothing is listed. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qredact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"token", "key"};
	static struct qredact *q, *none;
	char *in = malloc(size + 1), out[256], all[4096];
	const char *why = NULL;
	size_t n;

	if (in == NULL)
		abort();
	if (q == NULL && ((q = qredact_new(names, 2, &why)) == NULL ||
	    (none = qredact_new(NULL, 0, &why)) == NULL))
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	/* A value after "token=" made of one marker byte must vanish. */
	n = qredact_apply(q, in, out, sizeof(out));
	if (n >= sizeof(out) || out[n] != '\0' || strlen(out) != n)
		abort();
	if (strlen(in) < sizeof(all) / 2) {
		char probe[sizeof(all)];
		/* Put a secret behind a listed name after the fuzzed query. */
		snprintf(probe, sizeof(probe), "%s&ToK%%65n=\x7f\x7f\x7f", in);
		qredact_apply(q, probe, all, sizeof(all));
		if (strstr(all, "\x7f\x7f\x7f") != NULL && strchr(in, 0x7f) == NULL)
			abort();
		/* Nothing listed: the copy is the input. */
		qredact_apply(none, in, all, sizeof(all));
		if (strcmp(all, in) != 0)
			abort();
	}
	free(in);
	return 0;
}
