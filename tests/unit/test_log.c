/* test_log.c - the node log: levels, file, rotation by reopen, the backlog. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/log.h"
#include "tap.h"

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[65536];
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int main(void)
{
	char dir[] = "/tmp/neo-test-log-XXXXXX";
	char path[256], rotated[256];
	char *text;

	if (!tap_ok(mkdtemp(dir) != NULL, "temporary directory"))
		return tap_done();
	snprintf(path, sizeof(path), "%s/node.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/node.log.1", dir);

	tap_ok(neo_log_open(path, NEO_LOG_INFO, "neomaster") == 0, "log file opens");
	neo_log(NEO_LOG_DEBUG, "hidden %d", 1);
	neo_log(NEO_LOG_WARNING, "shown %d", 2);
	neo_log_set_name("M1");
	neo_log(NEO_LOG_ERROR, "named");
	text = read_file(path);
	tap_ok(text && !strstr(text, "hidden"), "lines below the level are dropped");
	tap_ok(text && strstr(text, " WARNING neomaster: shown 2\n"), "level, name and message");
	tap_ok(text && strstr(text, " ERROR M1: named\n"), "the name changes once the id is known");
	tap_ok(text && text[4] == '-' && text[19] == '.', "lines start with a timestamp with milliseconds");

	tap_ok(rename(path, rotated) == 0 && neo_log_reopen() == 0, "reopen after rotation");
	neo_log(NEO_LOG_INFO, "after rotation");
	text = read_file(path);
	tap_ok(text && strstr(text, "after rotation") && !strstr(text, "shown"),
	       "after reopen, lines go to a new file at the original path");
	text = read_file(rotated);
	tap_ok(text && strstr(text, "shown") && !strstr(text, "after rotation"),
	       "the rotated file keeps the old lines");

	/* The backlog: records below the level, the newest that fit. */
	tap_ok(!neo_log_wanted(NEO_LOG_DEBUG) && neo_log_wanted(NEO_LOG_INFO),
	       "without a backlog, DEBUG is not wanted at INFO");
	tap_ok(neo_log_flush() == 0, "nothing to flush without a backlog");
	tap_ok(neo_log_set_backlog(1000) == 0 && neo_log_wanted(NEO_LOG_DEBUG),
	       "with a backlog, DEBUG records are wanted");
	for (int i = 0; i < 100; i++)
		neo_log(NEO_LOG_DEBUG, "record %03d", i);
	neo_log(NEO_LOG_INFO, "written at once");
	text = read_file(path);
	tap_ok(text && strstr(text, "written at once") && !strstr(text, "record 099"),
	       "records below the level wait; the others are written at once");
	{
		size_t n = neo_log_flush();
		char *first, *last;

		text = read_file(path);
		first = text ? strstr(text, "record ") : NULL;
		last = text ? strstr(text, "record 099") : NULL;
		tap_ok(n > 10 && n < 100, "flush writes the newest records that fit (%zu)", n);
		tap_ok(text && strstr(text, "older ones dropped for room") && !strstr(text, "record 000")
		       && last != NULL && first != NULL && first < last
		       && strstr(text, " DEBUG M1: record 099\n"),
		       "oldest first, with their level and name, the oldest dropped and counted");
		tap_ok(text && strstr(text, "INFO M1: end of the "), "a line closes the flushed records");
	}
	tap_ok(neo_log_flush() == 0, "a second flush has nothing left");
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 7; i++)
			neo_log(NEO_LOG_DEBUG, "wrap %d.%d %s", round, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	tap_ok(neo_log_flush() > 0, "records wrapping round the ring flush");
	text = read_file(path);
	tap_ok(text && strstr(text, "DEBUG M1: wrap 2.6 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
	       "a record split by the end of the ring comes back whole");
	{
		char big[3000];

		memset(big, 'y', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		neo_log(NEO_LOG_DEBUG, "%s", big);
		tap_ok(neo_log_flush() == 0, "a record larger than the backlog is dropped");
	}
	tap_ok(neo_log_set_backlog(0) == 0 && !neo_log_wanted(NEO_LOG_DEBUG), "backlog off");

	tap_ok(neo_log_open("/nonexistent-dir/x.log", NEO_LOG_INFO, "x") == -1,
	       "an unwritable path is an error");
	tap_ok(neo_log_level_parse("debug") == NEO_LOG_DEBUG &&
	       neo_log_level_parse("Warning") == NEO_LOG_WARNING &&
	       neo_log_level_parse("loud") == -1, "level names parse");
	neo_log_close();
	unlink(path);
	unlink(rotated);
	rmdir(dir);
	return tap_done();
}
