/* A BPF iterator: one line per task into the iterator's file (its sequence number), and a count
 * of the tasks it walked. The context types are the kernel's; only their first members are
 * read, whose offsets every kernel since 5.8 shares. */
#include "counters.h"

struct seq_file;
struct task_struct;
struct bpf_iter_meta {
    struct seq_file *seq;
    __u64 session_id;
    __u64 seq_num;
};
struct bpf_iter__task {
    struct bpf_iter_meta *meta;
    struct task_struct *task;
};

SEC("iter/task")
int iter_tasks(struct bpf_iter__task *ctx)
{
    struct bpf_iter_meta *meta = ctx->meta;
    __u64 seq_num = meta->seq_num;

    /* The last call has no task: the walk is over. */
    if (!ctx->task)
        return 0;
    bump(1);
    BPF_SEQ_PRINTF(meta->seq, "%llu\n", seq_num);
    return 0;
}

SEC("iter/no_such_iterator")
int iter_missing(struct bpf_iter__task *ctx)
{
    return 0;
}
