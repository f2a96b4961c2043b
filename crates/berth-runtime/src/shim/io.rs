//! A supervisor's stdio: pipes, or a pseudo-terminal whose master arrives
//! over a console socket (OCI `terminal: true`), and the poll loop that moves
//! bytes between the process, its log or stream socket, and stdin clients.

use std::fs::File;
use std::io::{self, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::unistd::pipe2;

use crate::frames::{self, FrameReader};
use crate::logs::LogWriter;

/// The process's ends of its stdio, handed to the runtime.
pub struct ChildStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Our ends: what we read output from and write input to.
pub struct Io {
    pub out: Option<File>,
    pub err: Option<File>,
    pub stdin: Option<File>,
    /// The terminal master, for resizes; `None` without a TTY.
    pub pty: Option<RawFd>,
    /// Whether an attach client's end of input closes the process's stdin
    /// (`StdinOnce`; always for exec). Otherwise stdin stays open for the next.
    pub stdin_once: bool,
}

pub fn pipes(keep_stdin: bool) -> io::Result<(ChildStdio, Io)> {
    let flags = nix::fcntl::OFlag::O_CLOEXEC;
    let (in_r, in_w) = pipe2(flags)?;
    let (out_r, out_w) = pipe2(flags)?;
    let (err_r, err_w) = pipe2(flags)?;
    let io = Io {
        out: Some(out_r.into()),
        err: Some(err_r.into()),
        stdin: keep_stdin.then(|| in_w.into()),
        pty: None,
        stdin_once: false,
    };
    Ok((
        ChildStdio {
            stdin: in_r,
            stdout: out_w,
            stderr: err_w,
        },
        io,
    ))
}

/// Receives the terminal master the runtime sends over the console socket.
pub fn receive_pty(listener: &UnixListener) -> io::Result<Io> {
    let (conn, _) = listener.accept()?;
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just gave us this descriptor.
                let master = unsafe { File::from_raw_fd(fd) };
                let out = master.try_clone()?;
                let raw = master.as_raw_fd();
                return Ok(Io {
                    out: Some(out),
                    err: None,
                    stdin: Some(master),
                    pty: Some(raw),
                    stdin_once: false,
                });
            }
        }
    }
    Err(io::Error::other("the runtime sent no terminal"))
}

/// Socket paths are limited to 108 bytes, so sockets live under a short
/// directory of the exec root rather than in a container's state dir.
pub fn console_listener(path: &Path) -> io::Result<(UnixListener, std::path::PathBuf)> {
    let _ = std::fs::remove_file(path);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    Ok((UnixListener::bind(path)?, path.to_path_buf()))
}

pub fn resize(pty: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize on a terminal fd.
    unsafe { libc::ioctl(pty, libc::TIOCSWINSZ, &ws) };
}

/// libcontainer's builder for a container, with this process's stdio and
/// console socket: the common start of creating a container and of an exec.
pub fn builder(
    id: &str,
    root: &Path,
    io: Option<ChildStdio>,
    console: Option<&Path>,
) -> Result<libcontainer::container::builder::ContainerBuilder, String> {
    use libcontainer::container::builder::ContainerBuilder;
    use libcontainer::syscall::syscall::SyscallType;
    let mut b = ContainerBuilder::new(id.to_string(), SyscallType::Linux)
        .with_root_path(root)
        .map_err(|e| e.to_string())?
        .with_console_socket(console);
    if let Some(io) = io {
        b = b
            .with_stdin(io.stdin)
            .with_stdout(io.stdout)
            .with_stderr(io.stderr);
    }
    Ok(b)
}

/// A process's stdio on its way: before the runtime starts it, a console
/// socket (with a TTY) or pipes; after, our ends of them.
pub struct Prepared {
    console: Option<(UnixListener, std::path::PathBuf)>,
    child: Option<ChildStdio>,
    ours: Option<Io>,
}

pub fn prepare(tty: bool, keep_stdin: bool, console_socket: &Path) -> Result<Prepared, String> {
    if tty {
        let console =
            console_listener(console_socket).map_err(|e| format!("console socket: {e}"))?;
        return Ok(Prepared {
            console: Some(console),
            child: None,
            ours: None,
        });
    }
    let (child, ours) = pipes(keep_stdin).map_err(|e| format!("create stdio pipes: {e}"))?;
    Ok(Prepared {
        console: None,
        child: Some(child),
        ours: Some(ours),
    })
}

impl Prepared {
    /// What the runtime needs: the process's pipes, or the console socket's path.
    pub fn for_runtime(&mut self) -> (Option<ChildStdio>, Option<&Path>) {
        (
            self.child.take(),
            self.console.as_ref().map(|(_, p)| p.as_path()),
        )
    }

    /// Our ends, once the process runs (receiving the terminal if there is one).
    pub fn finish(self) -> Result<Io, String> {
        match (self.ours, self.console) {
            (Some(io), _) => Ok(io),
            (None, Some((listener, _))) => {
                receive_pty(&listener).map_err(|e| format!("terminal: {e}"))
            }
            (None, None) => Err("no stdio".into()),
        }
    }
}

/// Where output goes.
pub enum Sink<'a> {
    /// The container's json-file log (raw chunks with a TTY, lines without).
    Log { log: &'a mut LogWriter, tty: bool },
    /// Frames on the daemon's socket (exec).
    Stream(&'a mut UnixStream),
    /// Nowhere (`exec -d`): read so the process never blocks on a full pipe.
    Discard(&'a mut dyn Write),
}

struct Client {
    sock: UnixStream,
    frames: FrameReader,
}

/// Control of the input side.
pub struct Input {
    /// Attach clients connect here (the container's `attach.sock`).
    pub listener: Option<UnixListener>,
    /// A client connected from the start (exec's stream socket).
    pub client: Option<UnixStream>,
    /// Close stdin on a client's end of input (`StdinOnce`).
    pub stdin_once: bool,
}

impl Io {
    fn handle_frame(&mut self, kind: u8, payload: &[u8]) {
        match kind {
            frames::STDIN => {
                if let Some(s) = self.stdin.as_mut() {
                    if s.write_all(payload).is_err() {
                        self.close_stdin();
                    }
                }
            }
            // As dockerd: a client's end of input closes the process's stdin
            // with StdinOnce, never a terminal's.
            frames::STDIN_EOF if self.stdin_once && self.pty.is_none() => self.close_stdin(),
            frames::RESIZE if payload.len() == 4 => {
                if let Some(pty) = self.pty {
                    resize(
                        pty,
                        u16::from_be_bytes([payload[0], payload[1]]),
                        u16::from_be_bytes([payload[2], payload[3]]),
                    );
                }
            }
            _ => {}
        }
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Moves bytes until the process's output ends (EOF, or EIO on a terminal
    /// whose last user is gone).
    pub fn pump(mut self, sink: &mut Sink, mut input: Input) {
        self.stdin_once = input.stdin_once;
        let mut clients: Vec<Client> = input
            .client
            .take()
            .map(|sock| Client {
                sock,
                frames: FrameReader::default(),
            })
            .into_iter()
            .collect();
        let mut buf = vec![0u8; 32 * 1024];
        let mut partial_pending = false;
        while self.out.is_some() || self.err.is_some() {
            let mut fds: Vec<(u8, RawFd)> = Vec::new();
            if let Some(f) = &self.out {
                fds.push((0, f.as_raw_fd()));
            }
            if let Some(f) = &self.err {
                fds.push((1, f.as_raw_fd()));
            }
            if let Some(l) = &input.listener {
                fds.push((2, l.as_raw_fd()));
            }
            for (i, c) in clients.iter().enumerate() {
                fds.push((3 + i as u8, c.sock.as_raw_fd()));
            }
            let ready: Vec<(u8, bool)> = {
                // SAFETY: every fd above stays open for the duration of the poll.
                let borrowed: Vec<_> = fds
                    .iter()
                    .map(|(_, fd)| unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) })
                    .collect();
                let mut polls: Vec<PollFd> = borrowed
                    .iter()
                    .map(|b| PollFd::new(b.as_fd(), PollFlags::POLLIN))
                    .collect();
                // Flush a partial log line when the stream goes quiet (a prompt).
                let timeout = if partial_pending {
                    PollTimeout::from(20u16)
                } else {
                    PollTimeout::NONE
                };
                match poll(&mut polls, timeout) {
                    Ok(0) => {
                        if let Sink::Log { log, .. } = sink {
                            let _ = log.flush_partial(0);
                            let _ = log.flush_partial(1);
                        }
                        partial_pending = false;
                        continue;
                    }
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break,
                }
                polls
                    .iter()
                    .zip(&fds)
                    .filter_map(|(p, (tag, _))| {
                        p.revents()
                            .filter(|r| !r.is_empty())
                            .map(|r| (*tag, r.contains(PollFlags::POLLIN)))
                    })
                    .collect()
            };
            let mut gone = Vec::new();
            for (tag, _) in ready {
                match tag {
                    0 | 1 => {
                        let file = if tag == 0 {
                            &mut self.out
                        } else {
                            &mut self.err
                        };
                        let Some(f) = file.as_mut() else { continue };
                        match f.read(&mut buf) {
                            Ok(0) | Err(_) => {
                                *file = None;
                                if let Sink::Log { log, .. } = sink {
                                    let _ = log.flush_partial(tag as usize);
                                }
                            }
                            Ok(n) => match sink {
                                Sink::Log { log, tty: true } => {
                                    let _ = log.write_raw(0, &buf[..n]);
                                }
                                Sink::Log { log, tty: false } => {
                                    let _ = log.write(tag as usize, &buf[..n]);
                                    partial_pending = true;
                                }
                                Sink::Stream(s) => {
                                    let kind = if tag == 0 {
                                        frames::STDOUT
                                    } else {
                                        frames::STDERR
                                    };
                                    // If the daemon is gone, keep draining so the process is not blocked.
                                    let _ = frames::write_frame(s, kind, &buf[..n]);
                                }
                                Sink::Discard(w) => {
                                    let _ = w.write_all(&buf[..n]);
                                }
                            },
                        }
                    }
                    2 => {
                        if let Some(Ok((sock, _))) = input.listener.as_ref().map(|l| l.accept()) {
                            clients.push(Client {
                                sock,
                                frames: FrameReader::default(),
                            });
                        }
                    }
                    n => {
                        let i = (n - 3) as usize;
                        let Some(c) = clients.get_mut(i) else {
                            continue;
                        };
                        match c.sock.read(&mut buf) {
                            Ok(0) | Err(_) => gone.push(i),
                            Ok(k) => {
                                c.frames.push(&buf[..k]);
                                let mut frames_in = Vec::new();
                                while let Ok(Some(f)) = c.frames.next_frame() {
                                    frames_in.push(f);
                                }
                                for (kind, payload) in frames_in {
                                    self.handle_frame(kind, &payload);
                                }
                            }
                        }
                    }
                }
            }
            // A client that goes away (a detach, a resize) leaves stdin as it is.
            for i in gone.into_iter().rev() {
                clients.remove(i);
            }
        }
    }
}
