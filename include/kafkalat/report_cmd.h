/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* `kafkalat report`: recordings read back, merged and written in a format. */
#ifndef KAFKALAT_REPORT_CMD_H
#define KAFKALAT_REPORT_CMD_H

int report_main(int argc, char **argv);

#endif
