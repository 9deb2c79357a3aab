// Runs the driver checks (see test/helpers/driver-checks.ts) with pgjdbc and prints one JSON line per check.
// prepareThreshold=1 makes every PreparedStatement a named server-side statement from its first execution.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;

class PgjdbcChecks {
  private final Map<String, Object> cfg;
  private final String observeSql;

  PgjdbcChecks(Map<String, Object> cfg) {
    this.cfg = cfg;
    this.observeSql = (String) cfg.get("observeSql");
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o) {
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object o) {
    return (List<Object>) o;
  }

  static int integer(Object o) {
    return ((Number) o).intValue();
  }

  Connection open(Map<String, Object> endpoint, String app, String options) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", (String) endpoint.get("user"));
    p.setProperty("password", (String) endpoint.get("password"));
    p.setProperty("prepareThreshold", "1");
    p.setProperty("connectTimeout", "10");
    p.setProperty("socketTimeout", "10");
    if (app != null) p.setProperty("ApplicationName", app);
    if (options != null) {
      p.setProperty("options", options);
      // Puts ApplicationName in the startup packet too; without it pgjdbc sends SET application_name after login.
      p.setProperty("assumeMinServerVersion", "10");
    }
    String url = "jdbc:postgresql://" + endpoint.get("host") + ":" + integer(endpoint.get("port")) + "/" + endpoint.get("database");
    return DriverManager.getConnection(url, p);
  }

  Connection connect(String app) throws SQLException {
    return open(map(cfg.get("target")), app, null);
  }

  Connection connectWithStartup() throws SQLException {
    Map<String, Object> startup = map(cfg.get("startup"));
    StringBuilder options = new StringBuilder();
    for (Map.Entry<String, Object> e : map(startup.get("settings")).entrySet()) {
      options.append(options.length() == 0 ? "" : " ").append("-c ").append(e.getKey()).append('=').append(e.getValue());
    }
    return open(map(cfg.get("target")), (String) startup.get("applicationName"), options.toString());
  }

  void admin(String sql) throws SQLException {
    try (Connection c = open(map(cfg.get("admin")), "drv-admin", null); Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  static void exec(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  static List<Object> rows(ResultSet rs) throws SQLException {
    List<Object> rows = new ArrayList<>();
    int n = rs.getMetaData().getColumnCount();
    while (rs.next()) {
      List<Object> row = new ArrayList<>();
      for (int i = 1; i <= n; i++) row.add(rs.getObject(i));
      rows.add(row);
    }
    return rows;
  }

  Map<String, Object> observe(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(observeSql)) {
      rs.next();
      ResultSetMetaData md = rs.getMetaData();
      Map<String, Object> row = new LinkedHashMap<>();
      for (int i = 1; i <= md.getColumnCount(); i++) row.put(md.getColumnLabel(i), rs.getObject(i));
      return row;
    }
  }

  static Map<String, Object> failure(Throwable e) {
    Map<String, Object> m = new LinkedHashMap<>();
    String state = e instanceof SQLException ? ((SQLException) e).getSQLState() : null;
    m.put("error", state != null ? state : e.getClass().getSimpleName());
    m.put("message", String.valueOf(e.getMessage()).split("\n")[0]);
    return m;
  }

  static List<Object> firstRow(PreparedStatement ps) throws SQLException {
    try (ResultSet rs = ps.executeQuery()) {
      return list(rows(rs).get(0));
    }
  }

  /** In transaction mode, with a pool of 2, C takes A's backend while B still holds the other: A's second run moves. */
  Object preparedHop() throws SQLException {
    try (Connection a = connect("drv-a"); Connection b = connect("drv-b"); Connection c = connect("drv-c")) {
      a.setAutoCommit(false);
      b.setAutoCommit(false);
      c.setAutoCommit(false);
      PreparedStatement ps = a.prepareStatement("select ?::int * 2 as v, pg_backend_pid() as pid");
      ps.setInt(1, 1);
      List<Object> first = firstRow(ps);
      exec(b, "select pg_backend_pid()");
      a.commit();
      exec(c, "select 1");
      b.commit();
      ps.setInt(1, 2);
      List<Object> second = firstRow(ps);
      a.commit();
      c.commit();
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("values", List.of(first.get(0), second.get(0)));
      out.put("backends", new HashSet<>(List.of(first.get(1), second.get(1))).size());
      return out;
    }
  }

  static final String[] STATEMENTS = {
    "select ?::int + 1 as v", "select ?::text || '-x' as v", "select ?::int * 3 as v, ?::text as tag",
  };

  static List<Object> runStatement(PreparedStatement ps, int k, int i) throws SQLException {
    if (k == 1) ps.setString(1, String.valueOf(i));
    else ps.setInt(1, i);
    if (k == 2) ps.setString(2, "t" + i);
    return firstRow(ps);
  }

  static List<Object> want(int k, int i) {
    return k == 0 ? List.of(i + 1) : k == 1 ? List.of(i + "-x") : List.of(i * 3, "t" + i);
  }

  Object preparedConcurrent() throws Exception {
    int clients = integer(cfg.get("concurrentClients"));
    int rounds = integer(cfg.get("concurrentRounds"));
    int[] tally = new int[2];
    List<Object> errors = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      final int client = c;
      threads.add(new Thread(() -> {
        try (Connection conn = connect("drv-conc-" + client)) {
          PreparedStatement[] ps = new PreparedStatement[STATEMENTS.length];
          for (int k = 0; k < ps.length; k++) ps[k] = conn.prepareStatement(STATEMENTS[k]);
          for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < ps.length; k++) {
              int i = client * 1000 + r;
              boolean ok = runStatement(ps[k], k, i).equals(want(k, i));
              synchronized (tally) {
                tally[0]++;
                if (!ok) tally[1]++;
              }
            }
          }
        } catch (Exception e) {
          synchronized (tally) {
            errors.add(failure(e));
          }
        }
      }));
    }
    for (Thread t : threads) t.start();
    for (Thread t : threads) t.join();
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("executions", tally[0]);
    out.put("wrong", tally[1]);
    out.put("errors", errors);
    return out;
  }

  /** One run of the held statement; in a transaction, rolled back on error as an application would. */
  static Object selectAll(Connection c, PreparedStatement ps) {
    try (ResultSet rs = ps.executeQuery()) {
      List<Object> result = rows(rs);
      if (!c.getAutoCommit()) c.commit();
      return result;
    } catch (Exception e) {
      try {
        if (!c.getAutoCommit()) c.rollback();
      } catch (SQLException ignored) {
        // The attempt's own error is what is reported.
      }
      return failure(e);
    }
  }

  Object ddl() throws SQLException {
    String table = (String) cfg.get("table");
    Map<String, Object> target = map(cfg.get("target"));
    admin("drop table if exists " + table + "; create table " + table + " (id int primary key, a int, b text);"
        + "insert into " + table + " values (1, 10, 'x'), (2, 20, 'y'); grant select on " + table + " to " + target.get("user"));
    int attempts = integer(cfg.get("ddlAttempts"));
    Map<String, Object> out = new LinkedHashMap<>();
    try (Connection auto = connect("drv-ddl-auto"); Connection tx = connect("drv-ddl-tx")) {
      tx.setAutoCommit(false);
      String sql = "select * from " + table + " order by id";
      PreparedStatement autoPs = auto.prepareStatement(sql);
      PreparedStatement txPs = tx.prepareStatement(sql);
      for (Object stageObj : list(cfg.get("ddl"))) {
        List<Object> stage = list(stageObj);
        for (int i = 0; i < 3; i++) {
          selectAll(auto, autoPs);
          selectAll(tx, txPs);
        }
        admin("alter table " + table + " " + stage.get(1));
        List<Object> a = new ArrayList<>();
        List<Object> t = new ArrayList<>();
        for (int i = 0; i < attempts; i++) a.add(selectAll(auto, autoPs));
        for (int i = 0; i < attempts; i++) t.add(selectAll(tx, txPs));
        out.put((String) stage.get(0), Map.of("autocommit", a, "transaction", t));
      }
    }
    return out;
  }

  Object startupSettings() throws SQLException {
    try (Connection s = connectWithStartup(); Connection b = connect("drv-bystander")) {
      List<Object> startup = new ArrayList<>();
      List<Object> bystander = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        startup.add(observe(s));
        bystander.add(observe(b));
      }
      return Map.of("startup", startup, "bystander", bystander);
    }
  }

  Object reset() throws SQLException {
    try (Connection s = connectWithStartup(); Connection b = connect("drv-bystander")) {
      Map<String, Object> out = new LinkedHashMap<>();
      exec(s, "set statement_timeout = '99'");
      exec(s, "set application_name = 'changed'");
      out.put("afterSet", observe(s));
      exec(s, "reset statement_timeout");
      exec(s, "reset application_name");
      out.put("afterReset", observe(s));
      out.put("bystander", observe(b));
      exec(s, "set lock_timeout = '55'");
      exec(s, "set statement_timeout = '66'");
      exec(s, "reset all");
      out.put("afterResetAll", observe(s));
      return out;
    }
  }

  Object setStays() throws Exception {
    try (Connection a = connect("drv-setter"); Connection b = connect("drv-bystander")) {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("baseline", observe(b));
      exec(a, "set search_path = " + cfg.get("schema") + ", public");
      exec(a, "set statement_timeout = '4567'");
      // In autocommit mode pgjdbc sends SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE.
      a.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
      List<Object> setter = new ArrayList<>();
      List<Object> bystander = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        setter.add(observe(a));
        bystander.add(observe(b));
      }
      out.put("setter", setter);
      out.put("bystander", bystander);
      List<Object> seenA = new ArrayList<>();
      List<Object> seenB = new ArrayList<>();
      Thread ta = new Thread(() -> distinct(a, seenA));
      Thread tb = new Thread(() -> distinct(b, seenB));
      ta.start();
      tb.start();
      ta.join();
      tb.join();
      out.put("concurrent", Map.of("setter", seenA, "bystander", seenB));
      return out;
    }
  }

  /** As many clients as the pool has server connections, each inside a transaction: together they see every one. */
  Object leftovers() throws SQLException {
    List<Connection> conns = new ArrayList<>();
    List<Object> seen = new ArrayList<>();
    try {
      for (int i = 0; i < integer(cfg.get("leftoverClients")); i++) {
        Connection c = connect("drv-bystander");
        conns.add(c);
        c.setAutoCommit(false);
        seen.add(observe(c));
      }
      for (Connection c : conns) c.commit();
      return seen;
    } finally {
      for (Connection c : conns) c.close();
    }
  }

  /** Collects the distinct observations of `concurrentRounds` transactions (or the error that stopped them). */
  void distinct(Connection c, List<Object> seen) {
    try {
      for (int i = 0; i < integer(cfg.get("concurrentRounds")); i++) {
        Map<String, Object> o = observe(c);
        if (!seen.contains(o)) seen.add(o);
      }
    } catch (SQLException e) {
      seen.add(failure(e));
    }
  }

  public static void main(String[] args) {
    PgjdbcChecks checks = new PgjdbcChecks(map(new Json(args[0]).value()));
    Map<String, Callable<Object>> all = new LinkedHashMap<>();
    all.put("prepared-hop", checks::preparedHop);
    all.put("prepared-concurrent", checks::preparedConcurrent);
    all.put("ddl", checks::ddl);
    all.put("startup-settings", checks::startupSettings);
    all.put("reset", checks::reset);
    all.put("set-stays", checks::setStays);
    all.put("leftovers", checks::leftovers);
    for (Map.Entry<String, Callable<Object>> e : all.entrySet()) {
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("check", e.getKey());
      try {
        line.put("got", e.getValue().call());
      } catch (Exception ex) {
        // One failing check must not hide the others.
        line.put("failed", failure(ex));
      }
      System.out.println(Json.write(line));
      System.out.flush();
    }
  }
}
