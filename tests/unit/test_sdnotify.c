/* test_sdnotify.c: the notify datagrams reach a real AF_UNIX datagram
 * socket, bound to a path and in the abstract namespace, byte for byte. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "sdnotify.h"

static char tmpdir[64];
static char sockpath[128];
static int path_fd = -1;
static int abstract_fd = -1;
static char abstract_name[64];

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Bind a datagram socket; name starting with '@' is abstract. */
static int
bind_dgram(const char *name)
{
	struct sockaddr_un sun;
	size_t n = strlen(name);
	socklen_t len;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, n);
	if (name[0] == '@') {
		sun.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else
		len = (socklen_t)sizeof(sun);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The next datagram waiting on fd as a string ("" when none is queued:
 * sendto on a local datagram socket has queued it before returning). */
static const char *
recv_one(int fd)
{
	static char buf[2048];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int
suite_init(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sdnotify-test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(sockpath, sizeof(sockpath), "%s/notify", tmpdir);
	snprintf(abstract_name, sizeof(abstract_name), "@scopegate-sdnotify-test-%ld",
	    (long)getpid());
	if ((path_fd = bind_dgram(sockpath)) == -1 ||
	    (abstract_fd = bind_dgram(abstract_name)) == -1)
		return -1;
	return 0;
}

static int
suite_clean(void)
{
	if (path_fd != -1)
		close(path_fd);
	if (abstract_fd != -1)
		close(abstract_fd);
	unlink(sockpath);
	rmdir(tmpdir);
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

static void
test_unset(void)
{
	unsetenv("NOTIFY_SOCKET");
	CU_ASSERT_EQUAL(sdnotify("READY=1"), 0);
	CU_ASSERT_EQUAL(sdnotify_ready(), 0);
	CU_ASSERT_EQUAL(sdnotify_reloading(), 0);
	CU_ASSERT_EQUAL(sdnotify_stopping(), 0);
	CU_ASSERT_EQUAL(sdnotify_status("x %d", 1), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	CU_ASSERT_EQUAL(sdnotify_ready(), 0);
	CU_ASSERT_STRING_EQUAL(recv_one(path_fd), "");
	CU_ASSERT_STRING_EQUAL(recv_one(abstract_fd), "");
}

static void
test_path_socket(void)
{
	uint64_t before, after, got;
	const char *m;
	char *end;

	setenv("NOTIFY_SOCKET", sockpath, 1);
	CU_ASSERT_EQUAL(sdnotify_ready(), 1);
	CU_ASSERT_STRING_EQUAL(recv_one(path_fd), "READY=1");
	CU_ASSERT_EQUAL(sdnotify_stopping(), 1);
	CU_ASSERT_STRING_EQUAL(recv_one(path_fd), "STOPPING=1");
	CU_ASSERT_EQUAL(sdnotify("STATUS=a\nERRNO=5"), 1);
	CU_ASSERT_STRING_EQUAL(recv_one(path_fd), "STATUS=a\nERRNO=5");

	before = mono_us();
	CU_ASSERT_EQUAL(sdnotify_reloading(), 1);
	after = mono_us();
	m = recv_one(path_fd);
	CU_ASSERT_FATAL(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	CU_ASSERT(m[27] >= '1' && m[27] <= '9');
	got = strtoull(m + 27, &end, 10);
	CU_ASSERT(*end == '\0');
	CU_ASSERT(got >= before && got <= after);
	CU_ASSERT_STRING_EQUAL(recv_one(path_fd), "");	/* exactly one datagram each */
}

static void
test_status(void)
{
	char big[1500];
	const char *m;

	setenv("NOTIFY_SOCKET", sockpath, 1);
	CU_ASSERT_EQUAL(sdnotify_status("serving %d workers, generation %s", 4, "7"), 1);
	CU_ASSERT_STRING_EQUAL(recv_one(path_fd), "STATUS=serving 4 workers, generation 7");
	/* A line feed must not smuggle in another assignment. */
	CU_ASSERT_EQUAL(sdnotify_status("reload failed:\n%s", "MAINPID=1"), 1);
	CU_ASSERT_STRING_EQUAL(recv_one(path_fd), "STATUS=reload failed: MAINPID=1");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(sdnotify_status("%s", big), 1);
	m = recv_one(path_fd);
	CU_ASSERT_EQUAL(strlen(m), 7 + 1000);
	CU_ASSERT(strncmp(m, "STATUS=xxx", 10) == 0);
}

static void
test_abstract_socket(void)
{
	setenv("NOTIFY_SOCKET", abstract_name, 1);
	CU_ASSERT_EQUAL(sdnotify_ready(), 1);
	CU_ASSERT_STRING_EQUAL(recv_one(abstract_fd), "READY=1");
	CU_ASSERT_EQUAL(sdnotify_status("abstract"), 1);
	CU_ASSERT_STRING_EQUAL(recv_one(abstract_fd), "STATUS=abstract");
	CU_ASSERT_STRING_EQUAL(recv_one(path_fd), "");
}

static void
test_errors(void)
{
	char longpath[200];
	char missing[160];

	setenv("NOTIFY_SOCKET", "relative/socket", 1);
	errno = 0;
	CU_ASSERT_EQUAL(sdnotify_ready(), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	setenv("NOTIFY_SOCKET", "@", 1);
	CU_ASSERT_EQUAL(sdnotify_ready(), -1);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longpath, 1);
	errno = 0;
	CU_ASSERT_EQUAL(sdnotify_ready(), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	snprintf(missing, sizeof(missing), "%s/nobody-listens", tmpdir);
	setenv("NOTIFY_SOCKET", missing, 1);
	errno = 0;
	CU_ASSERT_EQUAL(sdnotify_ready(), -1);
	CU_ASSERT(errno == ENOENT || errno == ECONNREFUSED);
	CU_ASSERT_STRING_EQUAL(recv_one(path_fd), "");
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("sdnotify", suite_init, suite_clean);
	CU_add_test(s, "NOTIFY_SOCKET unset: no-op", test_unset);
	CU_add_test(s, "path socket", test_path_socket);
	CU_add_test(s, "STATUS formatting", test_status);
	CU_add_test(s, "abstract socket", test_abstract_socket);
	CU_add_test(s, "errors", test_errors);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
