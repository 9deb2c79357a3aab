// Just enough JSON for pgjdbc-checks.java: its config in, its results out (the JDK has no JSON).
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A recursive-descent reader of one JSON value, and a writer of maps, lists, strings, numbers and booleans. */
class Json {
  private final String s;
  private int i;

  Json(String s) {
    this.s = s;
  }

  Object value() {
    skip();
    char c = s.charAt(i);
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return string();
    if (s.startsWith("true", i)) return literal(4, Boolean.TRUE);
    if (s.startsWith("false", i)) return literal(5, Boolean.FALSE);
    if (s.startsWith("null", i)) return literal(4, null);
    int start = i;
    while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
    return Double.parseDouble(s.substring(start, i));
  }

  private Object literal(int length, Object v) {
    i += length;
    return v;
  }

  private void skip() {
    while (Character.isWhitespace(s.charAt(i))) i++;
  }

  private Map<String, Object> object() {
    Map<String, Object> m = new LinkedHashMap<>();
    i++;
    for (skip(); s.charAt(i) != '}'; skip()) {
      String key = string();
      skip();
      i++; // ':'
      m.put(key, value());
      skip();
      if (s.charAt(i) == ',') i++;
    }
    i++;
    return m;
  }

  private List<Object> array() {
    List<Object> l = new ArrayList<>();
    i++;
    for (skip(); s.charAt(i) != ']'; skip()) {
      l.add(value());
      skip();
      if (s.charAt(i) == ',') i++;
    }
    i++;
    return l;
  }

  private String string() {
    StringBuilder b = new StringBuilder();
    for (i++; s.charAt(i) != '"'; i++) {
      char c = s.charAt(i);
      if (c != '\\') {
        b.append(c);
        continue;
      }
      char e = s.charAt(++i);
      if (e == 'u') {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
        i += 4;
      } else {
        b.append(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e);
      }
    }
    i++;
    return b.toString();
  }

  static String write(Object v) {
    if (v == null) return "null";
    if (v instanceof Boolean || v instanceof Integer || v instanceof Long) return v.toString();
    if (v instanceof Map) {
      StringBuilder b = new StringBuilder("{");
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        if (b.length() > 1) b.append(", ");
        b.append(write(String.valueOf(e.getKey()))).append(": ").append(write(e.getValue()));
      }
      return b.append('}').toString();
    }
    if (v instanceof List) {
      StringBuilder b = new StringBuilder("[");
      for (Object o : (List<?>) v) b.append(b.length() > 1 ? ", " : "").append(write(o));
      return b.append(']').toString();
    }
    StringBuilder b = new StringBuilder("\"");
    for (char c : v.toString().toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
