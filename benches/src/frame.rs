//! The frame format: a 4-byte big-endian payload length, then the payload.

/// Length of the header in front of every payload.
pub const HEADER: usize = 4;

/// A frame announced a payload longer than the server's `--max-frame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// The end of the complete frames at the front of `buf` and how many there are.
///
/// # Errors
///
/// [`TooLarge`] when a header announces more than `max_frame` bytes.
///
/// # Examples
///
/// ```
/// use ptk_bench::frame::complete_frames;
///
/// let buf = [0, 0, 0, 2, b'h', b'i', 0, 0, 0, 5, b'x'];
/// assert_eq!(complete_frames(&buf, 64), Ok((6, 1)));
/// ```
#[inline]
pub fn complete_frames(buf: &[u8], max_frame: usize) -> Result<(usize, u64), TooLarge> {
    let mut end = 0;
    let mut frames = 0;
    while let Some(header) = buf.get(end..end + HEADER) {
        let n = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if n > max_frame {
            return Err(TooLarge);
        }
        if buf.len() - end - HEADER < n {
            break;
        }
        end += HEADER + n;
        frames += 1;
    }
    Ok((end, frames))
}

/// Writes one frame with a `len`-byte payload (bytes `0, 1, 2, ...` wrapping) into `out`,
/// which must hold `HEADER + len` bytes; returns the frame.
///
/// # Panics
///
/// If `out` is shorter than `HEADER + len` or `len` does not fit in a `u32`.
pub fn fill(out: &mut [u8], len: usize) -> &[u8] {
    let header = u32::try_from(len).expect("payload length fits in the 4-byte header");
    out[..HEADER].copy_from_slice(&header.to_be_bytes());
    for (i, b) in out[HEADER..HEADER + len].iter_mut().enumerate() {
        *b = i as u8;
    }
    &out[..HEADER + len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_whole_frames_and_a_partial_header_end_after_the_second() {
        let mut buf = [0u8; 32];
        let a = fill(&mut buf, 3).len();
        let b = fill(&mut buf[a..], 1).len();
        assert_eq!(complete_frames(&buf[..a + b + 2], 8), Ok((a + b, 2)));
    }

    #[test]
    fn a_header_over_the_limit_is_rejected() {
        assert_eq!(complete_frames(&[0, 0, 1, 0], 255), Err(TooLarge));
    }
}
