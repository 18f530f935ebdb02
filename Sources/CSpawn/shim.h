// The parts of glibc Swift's Glibc module does not show: GNU extensions for starting child processes and naming
// threads (the module is built without _GNU_SOURCE, and defining it here would change shared struct layouts
// between modules; they are declared with glibc's own signatures, glibc >= 2.34, Debian 12 ships 2.36), and the
// allocator's knobs from malloc.h.
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

// glibc's allocator knobs (malloc.h), which Swift's Glibc module leaves out.
#include <malloc.h>
// Fixes the size from which malloc hands out its own mmap (and free unmaps it), which also turns off glibc's
// dynamic threshold. Returns 1 on success.
static inline int bedside_malloc_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }
// How much free memory at the top of a heap is kept before free gives it back. glibc's dynamic threshold raises
// it to twice the largest freed mapped block; left raised, the top of the heap holds a few frames' worth and
// serves frame-sized blocks from it, mmap threshold or not. Returns 1 on success.
static inline int bedside_malloc_set_trim_threshold(int bytes) { return mallopt(M_TRIM_THRESHOLD, bytes); }
// Whether this block has its own mapping: glibc's IS_MMAPPED bit in the chunk's size word, just before the
// pointer (unchanged in glibc's layout since 2.0). Only for a pointer glibc's malloc returned and that is not
// freed yet (anything else is undefined behaviour): tests only.
static inline int bedside_malloc_block_is_mapped(const void *p) { return (((const size_t *)p)[-1] & 0x2) != 0; }
#endif
