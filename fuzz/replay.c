/* replay.c: a main() for fuzz targets built without libFuzzer. It feeds
 * every file of the target's seed corpus (fuzz/corpus/<target>/, or the
 * files and folders given as arguments) to LLVMFuzzerTestOneInput once, so
 * `make check` proves the corpus still runs clean (under the sanitizers in
 * the sanitizer build). */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int nrun;

static int
run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		if (fp)
			fclose(fp);
		return -1;
	}
	rewind(fp);
	/* Exactly len bytes, so the sanitizers see reads past the end. */
	buf = malloc(len ? (size_t)len : 1);
	if (buf == NULL || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	nrun++;
	return 0;
}

static int
run_path(const char *path)
{
	struct stat st;
	struct dirent **ents;
	int n, rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: missing\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	if ((n = scandir(path, &ents, NULL, alphasort)) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/%s", path, ents[i]->d_name);
			if (run_path(sub) != 0)
				rc = -1;
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *top = getenv("top_srcdir");
	char dir[4096];
	int rc = 0;

	/* libtool-free builds: the binary is fuzz_<target>. */
	if (strncmp(name, "fuzz_", 5) == 0)
		name += 5;
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (run_path(argv[i]) != 0)
				rc = 1;
	} else {
		snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", top ? top : ".", name);
		rc = run_path(dir) != 0;
	}
	printf("replay %s: %d inputs run clean\n", name, nrun);
	if (nrun == 0)
		rc = 1;
	return rc;
}
