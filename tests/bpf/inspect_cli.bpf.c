/* Fixture for the inspect tests (cli): one tracepoint program per test (each test selects its
 * own, so names are unique among parallel tests); the maps are in
 * inspect_common.h. */
#define MAP(name) insp_cli_##name
#include "inspect_common.h"

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_list(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_show(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_dump(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_btfmap(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_hexmap(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_pin(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_link(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_top(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_bad(void *ctx)
{
    return count_exec();
}

char _license[] SEC("license") = "GPL";
