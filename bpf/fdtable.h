/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared by the BPF objects: the current task's struct file for an fd. */
#ifndef KAFKALAT_FDTABLE_H
#define KAFKALAT_FDTABLE_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* fd -> struct file of the current task, or NULL (CO-RE through the fdtable). */
static __always_inline struct file *fd_to_file(__s32 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (!fdt || fd < 0 || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

#endif
