from bpfhook.bcc import BPF

# 内联编译并加载 eBPF 程序
b = BPF(text="""
#include <linux/ptrace.h>
int hello(struct pt_regs *ctx) {
    bpf_trace_printk("Hello from BCC!\\n");
    return 0;
}
""")

# 绑定到 execve 系统调用
b.attach_tracepoint(tp="syscalls:sys_enter_execve", fn_name="hello")

# 打印输出
print("Attaching... Press Ctrl+C to exit.")
b.trace_print()
