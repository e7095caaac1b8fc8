//! Just enough HTTP/1.1 for a load generator: the request is fixed, so its bytes are built once;
//! a response is parsed only as far as its status, its end (`Content-Length` or chunked) and
//! whether the server will close the connection.

/// A request, built once and sent as is on every round trip.
#[derive(Debug, Clone)]
pub struct Request {
    bytes: Vec<u8>,
}

impl Request {
    /// Builds the bytes of `method path` to `host` with `headers` and `body`, keep-alive.
    pub fn new(method: &str, host: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Self {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method != "GET" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        Self { bytes }
    }

    /// The bytes to write.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A response found complete at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Bytes of the buffer the response takes (head and body).
    pub len: usize,
    /// The server will close the connection after it.
    pub closes: bool,
}

/// Why a buffer does not hold a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not HTTP/1.x, or a malformed head, chunk size or length.
    Malformed,
    /// A body that ends only when the connection does (neither a length nor chunked).
    UntilClose,
}

/// Parses the response at the start of `buffer`: `Ok(None)` while it is incomplete.
pub fn parse_response(buffer: &[u8]) -> Result<Option<Response>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_len = match parsed.parse(buffer) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ParseError::Malformed),
    };
    let status = parsed.code.ok_or(ParseError::Malformed)?;
    let head = Head::read(parsed.headers, parsed.version == Some(0))?;
    let body_len = if status < 200 || status == 204 || status == 304 {
        Some(0)
    } else if head.chunked {
        chunked_len(&buffer[head_len..])?
    } else {
        Some(head.content_length.ok_or(ParseError::UntilClose)?)
    };
    Ok(body_len.filter(|len| head_len + len <= buffer.len()).map(|len| Response { status, len: head_len + len, closes: head.closes }))
}

/// What the headers say about the body and the connection.
struct Head {
    content_length: Option<usize>,
    chunked: bool,
    closes: bool,
}

impl Head {
    fn read(headers: &[httparse::Header<'_>], http10: bool) -> Result<Self, ParseError> {
        let mut head = Self { content_length: None, chunked: false, closes: http10 };
        for header in headers {
            let value = std::str::from_utf8(header.value).map_err(|_| ParseError::Malformed)?.trim();
            if header.name.eq_ignore_ascii_case("content-length") {
                head.content_length = Some(value.parse().map_err(|_| ParseError::Malformed)?);
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.to_ascii_lowercase().ends_with("chunked");
            } else if header.name.eq_ignore_ascii_case("connection") {
                let value = value.to_ascii_lowercase();
                head.closes = value.contains("close") || (http10 && !value.contains("keep-alive"));
            }
        }
        Ok(head)
    }
}

/// The length of a complete chunked body at the start of `body`, or `None` while incomplete.
fn chunked_len(body: &[u8]) -> Result<Option<usize>, ParseError> {
    let mut at = 0;
    loop {
        let Some(line_end) = find(&body[at..], b"\r\n") else { return Ok(None) };
        let line = std::str::from_utf8(&body[at..at + line_end]).map_err(|_| ParseError::Malformed)?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| ParseError::Malformed)?;
        at += line_end + 2;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            return Ok(if body[at..].starts_with(b"\r\n") { Some(at + 2) } else { find(&body[at..], b"\r\n\r\n").map(|end| at + end + 4) });
        }
        if body.len() < at + size + 2 {
            return Ok(None);
        }
        at += size + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_its_length_and_headers() {
        let headers = [("X-API-Key".to_owned(), "k".to_owned())];
        let request = Request::new("POST", "127.0.0.1:1", "/v1/check", &headers, b"{}");
        let text = String::from_utf8(request.bytes().to_vec()).unwrap_or_default();
        assert_eq!(text, "POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-API-Key: k\r\nContent-Length: 2\r\n\r\n{}");
    }

    #[test]
    fn content_length_responses_end_after_their_body() {
        let full = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1";
        assert_eq!(parse_response(full), Ok(Some(Response { status: 200, len: 40, closes: false })));
        assert_eq!(parse_response(&full[..39]), Ok(None));
        assert_eq!(parse_response(&full[..10]), Ok(None));
    }

    #[test]
    fn chunked_responses_end_after_the_last_chunk() {
        let full = b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n";
        let whole = parse_response(full);
        assert_eq!(whole, Ok(Some(Response { status: 503, len: full.len(), closes: true })));
        for cut in 60..full.len() {
            assert_eq!(parse_response(&full[..cut]), Ok(None), "cut at {cut}");
        }
        let trailers = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(parse_response(trailers).map(|r| r.map(|r| r.len)), Ok(Some(trailers.len())));
    }

    #[test]
    fn bodies_without_an_end_and_garbage_are_errors() {
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n\r\nabc"), Err(ParseError::UntilClose));
        assert_eq!(parse_response(b"SSH-2.0\r\n\r\n"), Err(ParseError::Malformed));
        assert_eq!(parse_response(b"HTTP/1.1 204 No Content\r\n\r\n").map(|r| r.map(|r| r.len)), Ok(Some(27)));
    }
}
