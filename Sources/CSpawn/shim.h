// glibc's GNU extensions for starting child processes, which Swift's Glibc module does not show (it is built
// without _GNU_SOURCE, and defining it here would change shared struct layouts between modules). They are
// declared here with glibc's own signatures (glibc >= 2.34 has all three; Debian 12 ships 2.36).
#ifndef BEDSIDE_CSPAWN_SHIM_H
#define BEDSIDE_CSPAWN_SHIM_H
#include <spawn.h>
#include <pthread.h>

// Closes every descriptor >= `from` in the child.
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
// The child's working directory.
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
// A pipe whose ends get `flags` (O_CLOEXEC) atomically: no other thread's child can inherit it.
extern int pipe2(int fds[2], int flags);

static inline int bedside_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
static inline int bedside_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}
static inline int bedside_pipe(int fds[2], int flags) { return pipe2(fds, flags); }

// The calling thread's name for the kernel (15 characters), as `top -H` and /proc/<pid>/task/*/comm show it.
extern int pthread_setname_np(pthread_t thread, const char *name);
static inline int bedside_name_this_thread(const char *name) { return pthread_setname_np(pthread_self(), name); }
#endif
