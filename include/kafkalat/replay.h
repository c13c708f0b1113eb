/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* kafkalat replay DUMP: a --dump-events file through the live pipeline. */
#ifndef KAFKALAT_REPLAY_H
#define KAFKALAT_REPLAY_H

int replay_main(int argc, char **argv);

#endif
