// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kafkalat: subcommands dispatched from a table; the default traces live. */
#include <stdio.h>
#include <string.h>

#include "kafkalat/causes_dump.h"
#include "kafkalat/cli.h"
#include "kafkalat/compare.h"
#include "kafkalat/exitcode.h"
#include "kafkalat/live.h"
#include "kafkalat/load.h"
#include "kafkalat/record.h"
#include "kafkalat/report_cmd.h"
#include "kafkalat/replay.h"

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} commands[] = {
    {"load", load_main},     {"causes-dump", causes_dump_main}, {"replay", replay_main},
    {"record", record_main}, {"report", report_main},		{"compare", compare_main},
};

int main(int argc, char **argv)
{
	struct cli_opts o;
	char err[256];

	if (argc > 1)
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[1], commands[i].name))
				return commands[i].main(argc - 1, argv + 1);
	switch (cli_parse(argc, argv, &o, err, sizeof(err))) {
	case CLI_EXIT:
		return 0;
	case CLI_ERROR:
		fprintf(stderr, "kafkalat: %s\n", err);
		return KLT_EXIT_USAGE;
	default:
		return live_run(&o);
	}
}
