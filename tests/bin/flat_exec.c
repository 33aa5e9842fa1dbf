/* Runs bare code: waits for a line on stdin, maps the file argv[1] executable and calls its
 * first byte as int f(int) with 21; the result is the exit status. A uprobe on a file that is
 * not ELF (at a file offset) sees the call. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    char line[16];
    struct stat st;
    if (argc < 2 || !fgets(line, sizeof line, stdin))
        return 100;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0)
        return 101;
    int (*code)(int) = (int (*)(int))mmap(NULL, st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    if (code == MAP_FAILED)
        return 102;
    return code(21);
}
