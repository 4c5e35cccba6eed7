#include "datasets/TextTable.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "datasets/Error.h"

namespace fs = std::filesystem;

namespace mcpt::datasets::detail {

// Length of the UTF-8 sequence starting at text[i], or 0 when it is not valid UTF-8 (overlong
// forms, surrogates and code points above U+10FFFF included, as RFC 3629 says).
static size_t utf8_length(const std::string& text, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if (c == 0xED) n = 3, hi = 0x9F;
  else if (c >= 0xE1 && c <= 0xEF) n = 3;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else return 0;
  if (i + n > text.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  return n;
}

std::string read_text_file(const fs::path& file) {
  std::error_code ec;
  const auto st = fs::status(file, ec);
  if (st.type() == fs::file_type::not_found) throw Error(fmt::format("{}: file not found", file.string()));
  if (st.type() == fs::file_type::directory) throw Error(fmt::format("{}: is a folder, expected a file", file.string()));
  // A FIFO or a device would block or never end: annotations are regular files.
  if (st.type() != fs::file_type::regular)
    throw Error(fmt::format("{}: not a regular file (a pipe, device or socket?)", file.string()));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open for reading", file.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("{}: read error", file.string()));
  std::string text = ss.str();
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  // Annotations end up as JSON strings in the report, which must be UTF-8: other encodings are
  // refused here, with the line, rather than guessed at or failing later far from the cause.
  if (text.compare(0, 2, "\xFF\xFE") == 0 || text.compare(0, 2, "\xFE\xFF") == 0)
    throw Error(fmt::format("{}: UTF-16 text (byte-order mark {:02X} {:02X}); save the file as UTF-8", file.string(),
                            static_cast<unsigned char>(text[0]), static_cast<unsigned char>(text[1])));
  int line = 1;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '\0')
      throw Error(fmt::format("{}:{}: NUL byte in a text file (UTF-16 without a byte-order mark?); save the file "
                              "as UTF-8",
                              file.string(), line));
    const size_t n = utf8_length(text, i);
    if (n == 0)
      throw Error(fmt::format("{}:{}: not valid UTF-8 (byte 0x{:02X}; Latin-1 or Windows-1252?); save the file as "
                              "UTF-8",
                              file.string(), line, static_cast<unsigned char>(text[i])));
    if (text[i] == '\n') ++line;
    i += n;
  }
  return text;
}

static bool is_blank(const std::vector<std::string>& fields) {
  return std::all_of(fields.begin(), fields.end(), [](const std::string& f) { return trim(f).empty(); });
}

std::vector<Row> parse_table(const std::string& text, const fs::path& file, const TableFormat& format) {
  std::vector<Row> rows;
  Row row;
  row.line = 1;
  std::string field;
  bool in_quotes = false;
  bool field_quoted = false;  // this field began with a quote: delimiters inside it are content
  int line = 1;
  int quote_line = 0;

  auto end_field = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    field_quoted = false;
  };
  auto end_record = [&] {
    end_field();
    if (!is_blank(row.fields)) rows.push_back(std::move(row));
    row = Row{};
    row.line = line;
  };

  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        // A CRLF inside a quoted field reads as LF, as it would on a system that writes LF.
        if (!(c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) field += c;
      }
      continue;
    }
    if (c == '"' && format.quotes && !field_quoted && trim(field).empty()) {
      field.clear();  // spaces before an opening quote are not content
      in_quotes = true;
      field_quoted = true;
      quote_line = line;
    } else if (c == format.delimiter) {
      end_field();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      // the LF ends the record
    } else if (c == '\n') {
      ++line;
      end_record();
    } else {
      field += c;
    }
  }
  if (in_quotes)
    throw Error(fmt::format("{}:{}: quoted field is not closed before the end of the file", file.string(),
                            quote_line));
  end_record();
  return rows;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == '\x7f') {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));  // no raw control bytes on a terminal
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string escaped(std::string_view text) {
  const std::string q = quoted(text);
  return q.substr(1, q.size() - 2);
}

std::optional<double> parse_number(std::string_view s) {
  const std::string t = trim(s);
  if (t.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || errno == ERANGE || !std::isfinite(d)) return std::nullopt;
  return d;
}

std::optional<long long> parse_integer(std::string_view s) {
  const std::string t = trim(s);
  if (t.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(t.c_str(), &end, 10);
  if (end != t.c_str() + t.size() || errno == ERANGE) return std::nullopt;
  return v;
}

static bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool id_less(const std::string& a, const std::string& b) {
  const bool da = all_digits(a), db = all_digits(b);
  if (da != db) return da;
  if (da) {
    const size_t za = std::min(a.find_first_not_of('0'), a.size());
    const size_t zb = std::min(b.find_first_not_of('0'), b.size());
    const size_t la = a.size() - za, lb = b.size() - zb;
    if (la != lb) return la < lb;
    const int c = a.compare(za, la, b, zb, lb);
    if (c != 0) return c < 0;
  }
  return a < b;  // also orders "007" and "7" apart
}

void sort_by_id(std::vector<Track>& tracks) {
  std::stable_sort(tracks.begin(), tracks.end(), [](const Track& x, const Track& y) { return id_less(x.id, y.id); });
}

void sort_by_id(std::vector<Exclusion>& excluded) {
  std::stable_sort(excluded.begin(), excluded.end(),
                   [](const Exclusion& x, const Exclusion& y) { return id_less(x.id, y.id); });
}

void check_audio(Dataset& dataset) {
  dataset.missing_audio.clear();
  for (const auto& t : dataset.tracks) {
    std::error_code ec;
    if (!fs::is_regular_file(t.audio, ec)) dataset.missing_audio.push_back(t.id);
  }
}

}  // namespace mcpt::datasets::detail
