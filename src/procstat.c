/* procstat.c: see procstat.h. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "procstat.h"

void
procstat_read(struct metrics_process *p, double start_time)
{
	struct rusage ru;
	struct rlimit rl;
	unsigned long long size = 0, resident = 0;
	long page = sysconf(_SC_PAGESIZE);
	struct dirent *de;
	FILE *fp;
	DIR *d;

	p->ok = 0;
	p->start_time = start_time;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		p->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	p->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 0;
	if ((fp = fopen("/proc/self/statm", "re")) == NULL)
		return;
	if (fscanf(fp, "%llu %llu", &size, &resident) != 2) {
		fclose(fp);
		return;
	}
	fclose(fp);
	p->virtual_bytes = (uint64_t)size * (uint64_t)(page > 0 ? page : 4096);
	p->resident_bytes = (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	p->open_fds = 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			p->open_fds++;
	closedir(d);
	/* The directory stream itself was one of them. */
	if (p->open_fds > 0)
		p->open_fds--;
	p->ok = 1;
}
