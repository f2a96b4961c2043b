//! `berth-init [--] CMD ARGS…`: a minimal PID 1 (see README). Freestanding:
//! raw Linux system calls, no allocation, so it runs in any root file system.
#![no_std]
#![no_main]

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!("berth-init supports x86_64 Linux");

use core::arch::{asm, global_asm};

const SYS_WRITE: usize = 1;
const SYS_RT_SIGPROCMASK: usize = 14;
const SYS_FORK: usize = 57;
const SYS_EXECVE: usize = 59;
const SYS_WAIT4: usize = 61;
const SYS_KILL: usize = 62;
const SYS_SETPGID: usize = 109;
const SYS_RT_SIGTIMEDWAIT: usize = 128;
const SYS_EXIT_GROUP: usize = 231;
const SIG_SETMASK: usize = 2;
const SIGCHLD: isize = 17;
const WNOHANG: usize = 1;
const ENOENT: isize = 2;

// The kernel starts us with argc, argv and envp on the stack.
global_asm!(
    ".globl _start",
    "_start:",
    "mov rdi, rsp",
    "and rsp, -16",
    "call berth_init_main",
    "ud2"
);

unsafe fn syscall(n: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for system call `n`.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a1, in("rsi") a2, in("rdx") a3, in("r10") a4,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

fn exit(code: i32) -> ! {
    // SAFETY: exit_group does not return; `unreachable_unchecked` tells the compiler so.
    unsafe {
        syscall(SYS_EXIT_GROUP, code as usize, 0, 0, 0);
        core::hint::unreachable_unchecked()
    }
}

fn say(msg: &[u8]) {
    // SAFETY: writes a live buffer to stderr.
    unsafe { syscall(SYS_WRITE, 2, msg.as_ptr() as usize, msg.len(), 0) };
}

/// Length of a NUL-terminated string.
unsafe fn cstr_len(p: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller passes a NUL-terminated string.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    n
}

unsafe fn starts_with(p: *const u8, prefix: &[u8]) -> bool {
    // SAFETY: stops at the first byte that differs, at the latest at the NUL.
    prefix
        .iter()
        .enumerate()
        .all(|(i, b)| unsafe { *p.add(i) } == *b)
}

/// `execvp`: a name without a slash is looked up in `PATH`.
unsafe fn exec(argv: *const *const u8, envp: *const *const u8) -> isize {
    // SAFETY: argv and envp come from the kernel, NUL-terminated arrays of C strings.
    unsafe {
        let file = *argv;
        let flen = cstr_len(file);
        if (0..flen).any(|i| *file.add(i) == b'/') {
            return syscall(SYS_EXECVE, file as usize, argv as usize, envp as usize, 0);
        }
        let mut path: *const u8 = c"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            .as_ptr()
            .cast();
        let mut e = envp;
        while !(*e).is_null() {
            if starts_with(*e, b"PATH=") {
                path = (*e).add(5);
            }
            e = e.add(1);
        }
        let mut buf = [0u8; 4096];
        let mut err = -ENOENT;
        let mut start = 0;
        let plen = cstr_len(path);
        while start <= plen {
            let mut end = start;
            while end < plen && *path.add(end) != b':' {
                end += 1;
            }
            let dir_len = end - start;
            if dir_len + 1 + flen < buf.len() {
                let mut n = 0;
                for i in start..end {
                    buf[n] = *path.add(i);
                    n += 1;
                }
                if dir_len > 0 {
                    buf[n] = b'/';
                    n += 1;
                }
                for i in 0..flen {
                    buf[n] = *file.add(i);
                    n += 1;
                }
                buf[n] = 0;
                let r = syscall(
                    SYS_EXECVE,
                    buf.as_ptr() as usize,
                    argv as usize,
                    envp as usize,
                    0,
                );
                if r != -ENOENT {
                    err = r;
                }
            }
            start = end + 1;
        }
        err
    }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn berth_init_main(sp: *const usize) -> ! {
    // SAFETY: the layout of the initial stack is fixed by the kernel ABI.
    unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        let envp = argv.add(argc + 1);
        let mut first = 1;
        if argc > 1 && starts_with(*argv.add(1), b"--\0") {
            first = 2;
        }
        if first >= argc {
            say(b"berth-init: usage: berth-init [--] COMMAND [ARGS...]\n");
            exit(2);
        }
        let all: u64 = !0;
        let mut old: u64 = 0;
        syscall(
            SYS_RT_SIGPROCMASK,
            SIG_SETMASK,
            &all as *const u64 as usize,
            &mut old as *mut u64 as usize,
            8,
        );
        let child = syscall(SYS_FORK, 0, 0, 0, 0);
        if child < 0 {
            say(b"berth-init: fork failed\n");
            exit(1);
        }
        if child == 0 {
            syscall(
                SYS_RT_SIGPROCMASK,
                SIG_SETMASK,
                &old as *const u64 as usize,
                0,
                8,
            );
            // Its own process group, as if it ran without us.
            syscall(SYS_SETPGID, 0, 0, 0, 0);
            let err = exec(argv.add(first), envp);
            say(b"berth-init: cannot run the command\n");
            exit(if err == -ENOENT { 127 } else { 126 });
        }
        let mut info = [0u8; 128];
        loop {
            let sig = syscall(
                SYS_RT_SIGTIMEDWAIT,
                &all as *const u64 as usize,
                info.as_mut_ptr() as usize,
                0,
                8,
            );
            if sig <= 0 {
                continue;
            }
            if sig != SIGCHLD {
                syscall(SYS_KILL, child as usize, sig as usize, 0, 0);
                continue;
            }
            // Reap every exited process; leave with our command's status.
            loop {
                let mut status: i32 = 0;
                let pid = syscall(
                    SYS_WAIT4,
                    usize::MAX,
                    &mut status as *mut i32 as usize,
                    WNOHANG,
                    0,
                );
                if pid <= 0 {
                    break;
                }
                if pid == child {
                    let code = if status & 0x7f == 0 {
                        (status >> 8) & 0xff
                    } else {
                        128 + (status & 0x7f)
                    };
                    exit(code);
                }
            }
        }
    }
}

// The compiler may call these for array initialisation and copies. Volatile
// accesses keep it from turning the loops back into calls to themselves.
#[unsafe(no_mangle)]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller guarantees `dst` is valid for `n` bytes.
        unsafe { core::ptr::write_volatile(dst.add(i), c as u8) };
    }
    dst
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller guarantees both are valid for `n` bytes.
        unsafe { core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i))) };
    }
    dst
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) < (src as usize) {
        // SAFETY: as memcpy; copying forwards is safe when dst is below src.
        unsafe { memcpy(dst, src, n) }
    } else {
        for i in (0..n).rev() {
            // SAFETY: the caller guarantees both are valid for `n` bytes.
            unsafe { core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i))) };
        }
        dst
    }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strlen(p: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller passes a NUL-terminated string.
    while unsafe { core::ptr::read_volatile(p.add(n)) } != 0 {
        n += 1;
    }
    n
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: the caller guarantees both are valid for `n` bytes.
        let (x, y) = unsafe {
            (
                core::ptr::read_volatile(a.add(i)),
                core::ptr::read_volatile(b.add(i)),
            )
        };
        if x != y {
            return x as i32 - y as i32;
        }
    }
    0
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(1)
}

/// Needed by `core` when it is built to unwind; nothing here unwinds.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
