//! The local terminal: raw mode while attached (restored on every way out,
//! by the guard's Drop), its size, and SIGWINCH.

use std::io::IsTerminal;
use std::sync::Mutex;

pub struct RawMode {
    saved: libc::termios,
}

/// The attributes to restore if we die while in raw mode (panics abort, so
/// no destructor runs: a panic hook restores the terminal instead).
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

fn restore(t: &libc::termios) {
    // SAFETY: restores attributes previously read from the same terminal.
    unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
}

impl RawMode {
    /// Puts stdin's terminal in raw mode; `None` when stdin is not a terminal.
    pub fn enter() -> Option<RawMode> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        // SAFETY: termios calls on fd 0 with structs we own.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            // Keep output post-processing so our own messages still get CR LF.
            t.c_oflag |= libc::OPOST;
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return None;
            }
            *SAVED.lock().unwrap_or_else(|p| p.into_inner()) = Some(saved);
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if let Some(t) = SAVED.lock().ok().and_then(|s| *s) {
                    restore(&t);
                }
                previous(info);
            }));
            Some(RawMode { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore(&self.saved);
        *SAVED.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// (rows, cols) of our terminal, if stdout is one.
pub fn size() -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ fills a winsize we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        for fd in [1, 0, 2] {
            if libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0 {
                return Some((ws.ws_row, ws.ws_col));
            }
        }
    }
    None
}
