// Seed 004's uprobe on bash's readline: one line per command typed in any bash.
// Run: bpfhook run examples/uprobe_readline.bpf.o --binary /bin/bash
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

SEC("uprobe/readline")
int uprobe_readline(void *ctx)
{
    bpf_printk("new bash command detected\n");
    return 0;
}
