package io.vertx.bop.bench;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Side-by-side benchmark of BopClusterManager and vertx-hazelcast 5.0.7 (issue 5): for each product,
 * 3 nodes in separate JVMs ({@link NodeMain}) driven over stdin/stdout, then one table with both
 * figures, the ratio bop/hazelcast and the goal per row.
 *
 * <p>Flags: {@code --quick} (shorter workloads; the failure-detection row at defaults is skipped),
 * {@code --only=bop|hz} (debugging: one product), {@code --no-default-failure} (skip that row).
 */
public final class Compare {

  static boolean quick;
  static long tputMs;
  static int latN, latWarm;
  static final int INFLIGHT = 64;
  static final int LOCK_CHAINS_UNCONTENDED = 8;
  static final int CHURN_CHAINS = 8;
  static File logDir;

  public static void main(String[] args) throws Exception {
    List<String> a = Arrays.asList(args);
    quick = a.contains("--quick");
    boolean defaultFailure = !quick && !a.contains("--no-default-failure");
    String only = null;
    for (String s : args) if (s.startsWith("--only=")) only = s.substring(7);
    tputMs = quick ? 1000 : 5000;
    latN = quick ? 300 : 700;      // per node; the three nodes run one after the other
    latWarm = quick ? 100 : 300;
    logDir = new File(System.getProperty("bench.logDir", "target/bench-logs"));
    logDir.mkdirs();

    long t0 = System.currentTimeMillis();
    Map<String, Map<String, Object>> results = new LinkedHashMap<>();
    for (String product : new String[] {"bop", "hz"}) {
      if (only != null && !only.equals(product)) continue;
      log("=== " + product + " ===");
      results.put(product, measure(product, defaultFailure));
    }
    printTable(results, defaultFailure, (System.currentTimeMillis() - t0) / 1000);
  }

  static void log(String s) {
    System.err.println(String.format(Locale.ROOT, "[bench %tT] %s", System.currentTimeMillis(), s));
  }

  // ------------------------------------------------------------------------------------------------

  static Map<String, Object> measure(String product, boolean defaultFailure) {
    Map<String, Object> r = new LinkedHashMap<>();
    final Cluster c;
    try {
      c = Cluster.start(product, false);
      r.put("formLaunch", (double) (c.maxFormed() - c.launch));
      r.put("formJvm", (double) c.maxInJvm());
      log(product + " formed: " + r);
    } catch (Exception e) {
      r.put("error", "cluster did not form: " + e);
      log(product + " cluster did not form: " + e);
      return r;
    }
    try {
      section(r, "memory", c, () -> memory(c, r));
      section(r, "maplat", c, () -> mapLatency(c, r));
      section(r, "mapPut", c, () -> r.put("mapPut", throughputAll(c, "MAPPUT " + tputMs + " " + INFLIGHT)));
      section(r, "mapGet", c, () -> r.put("mapGet", throughputAll(c, "MAPGET " + tputMs + " " + INFLIGHT)));
      section(r, "counter", c, () -> r.put("counter", throughputAll(c, "COUNTER " + tputMs + " " + INFLIGHT)));
      section(r, "lockC", c, () -> r.put("lockC", throughputAll(c, "LOCK " + tputMs + " 1 contended")));
      section(r, "lockU", c, () -> r.put("lockU",
          throughputAll(c, "LOCK " + tputMs + " " + LOCK_CHAINS_UNCONTENDED + " uncontended")));
      section(r, "ebrr", c, () -> r.put("ebrr",
          throughput(List.of(c.nodes.get(0)), "EBRR " + tputMs + " " + INFLIGHT + " 1")));
      section(r, "churn", c, () -> r.put("churn", throughputAll(c, "CHURN " + tputMs + " " + CHURN_CHAINS)));
      if (defaultFailure) {
        section(r, "failDefault", c, () -> r.put("failDefault",
            failure(c, product.equals("bop") ? 90_000 : 180_000)));
      }
    } finally {
      c.close();
    }
    Cluster c2 = null;
    try {
      c2 = Cluster.start(product, true);
      r.put("formLaunch2s", (double) (c2.maxFormed() - c2.launch));
      Cluster cc = c2;
      section(r, "fail2s", c2, () -> r.put("fail2s", failure(cc, 60_000)));
    } catch (Exception e) {
      r.put("fail2s", "error: " + e);
    } finally {
      if (c2 != null) c2.close();
    }
    log(product + " results: " + r);
    return r;
  }

  interface Body {
    void run() throws Exception;
  }

  static void section(Map<String, Object> r, String key, Cluster c, Body b) {
    long t = System.currentTimeMillis();
    try {
      b.run();
      log(c.product + " " + key + " done in " + (System.currentTimeMillis() - t) + " ms: "
          + (r.containsKey(key) ? r.get(key) : ""));
    } catch (Exception e) {
      log(c.product + " " + key + " failed: " + e);
      String m = String.valueOf(e.getMessage());
      r.put(key, "error: " + (m.length() > 120 ? m.substring(0, 120) + "..." : m));
      c.resync();
    }
  }

  static void memory(Cluster c, Map<String, Object> r) throws Exception {
    int total = 10_000;
    for (Node n : c.nodes) n.send("MEM");
    double heap0 = 0;
    for (Node n : c.nodes) heap0 += Long.parseLong(n.expect(60_000).split(" ")[1]);
    for (int i = 0; i < 3; i++) {
      int from = i * total / 3, to = (i + 1) * total / 3;
      c.nodes.get(i).send("FILL " + from + " " + to);
    }
    long errors = 0;
    for (Node n : c.nodes) errors += Long.parseLong(n.expect(300_000).split(" ")[2]);
    if (errors > 0) throw new IllegalStateException(errors + " puts failed (see node logs)");
    c.nodes.get(0).send("SIZE bench.mem");
    long size = Long.parseLong(c.nodes.get(0).expect(60_000).split(" ")[1]);
    if (size != total) throw new IllegalStateException("map size " + size + " after filling " + total);
    for (Node n : c.nodes) n.send("MEM");
    double heap = 0, rss = 0;
    StringBuilder per = new StringBuilder();
    for (Node n : c.nodes) {
      String[] f = n.expect(60_000).split(" ");
      heap += Long.parseLong(f[1]);
      rss += Long.parseLong(f[2]);
      per.append(String.format(Locale.ROOT, " node%d heap %.1f MiB RSS %.1f MiB;", n.index,
          Long.parseLong(f[1]) / 1048576.0, Long.parseLong(f[2]) / 1048576.0));
    }
    r.put("heap", heap / 3 / 1048576.0);
    r.put("heapGrowth", (heap - heap0) / 3 / 1048576.0);
    r.put("rss", rss / 3 / 1048576.0);
    r.put("memPerNode", per.toString());
  }

  static void mapLatency(Cluster c, Map<String, Object> r) throws Exception {
    List<Long> put = new ArrayList<>(), get = new ArrayList<>();
    for (Node n : c.nodes) {  // one node after the other: one request in flight in the cluster
      n.send("MAPLAT " + latN + " " + latWarm);
      String[] f = n.expect(600_000).split(" ");
      for (String s : f[1].split(",")) put.add(Long.parseLong(s));
      for (String s : f[2].split(",")) get.add(Long.parseLong(s));
    }
    put.sort(null);
    get.sort(null);
    r.put("putP50", pct(put, 0.50));
    r.put("putP99", pct(put, 0.99));
    r.put("getP50", pct(get, 0.50));
    r.put("getP99", pct(get, 0.99));
    r.put("latSamples", (double) put.size());
  }

  static double pct(List<Long> sorted, double p) {
    int i = (int) Math.ceil(p * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
  }

  static double throughputAll(Cluster c, String cmd) throws Exception {
    return throughput(c.nodes, cmd);
  }

  /** Sends cmd to the nodes at once; the result is the sum of their ops/s. Fails on any error. */
  static double throughput(List<Node> nodes, String cmd) throws Exception {
    for (Node n : nodes) n.send(cmd);
    double sum = 0;
    long errors = 0;
    for (Node n : nodes) {
      String[] f = n.expect(tputMs + 120_000).split(" ");
      long ok = Long.parseLong(f[1]);
      errors += Long.parseLong(f[2]);
      sum += ok / (Long.parseLong(f[3]) / 1e9);
    }
    if (errors > 0) throw new IllegalStateException(errors + " operations failed (see node logs)");
    return sum;
  }

  /** kill -9 of node 2; the time until nodes 0 and 1 both no longer list it (ms). */
  static double failure(Cluster c, long max) throws Exception {
    Node victim = c.nodes.get(2);
    List<Node> watchers = c.nodes.subList(0, 2);
    for (Node n : watchers) n.send("WATCH " + victim.nodeId + " " + max);
    for (Node n : watchers) n.expect(30_000);  // WATCHING
    long kill = System.currentTimeMillis();
    victim.process.destroyForcibly();
    long gone = 0;
    for (Node n : watchers) {
      long t = Long.parseLong(n.expect(max + 30_000).split(" ")[1]);
      if (t < 0) throw new IllegalStateException("node " + n.index + " still lists the killed node after " + max + " ms");
      gone = Math.max(gone, t);
    }
    victim.dead = true;
    return gone - kill;
  }

  // ------------------------------------------------------------------------------------------------

  static final class Node {
    final int index;
    final Process process;
    final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    String nodeId;
    long buildStart, formed;
    boolean dead;

    Node(int index, Process process) {
      this.index = index;
      this.process = process;
      Thread t = new Thread(() -> {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          String l;
          while ((l = in.readLine()) != null) {
            if (l.startsWith("@@ ")) lines.add(l.substring(3));
          }
        } catch (Exception ignored) {
        }
        lines.add("EOF");
      }, "reader-" + index);
      t.setDaemon(true);
      t.start();
    }

    void send(String cmd) throws Exception {
      process.getOutputStream().write((cmd + "\n").getBytes(StandardCharsets.UTF_8));
      process.getOutputStream().flush();
    }

    String expect(long ms) throws Exception {
      String l = lines.poll(ms, TimeUnit.MILLISECONDS);
      if (l == null) throw new IllegalStateException("node " + index + ": no answer within " + ms + " ms");
      if (l.equals("EOF")) throw new IllegalStateException("node " + index + " exited");
      if (l.startsWith("ERR")) throw new IllegalStateException("node " + index + ": " + l);
      return l;
    }
  }

  static final class Cluster {
    final String product;
    final List<Node> nodes = new ArrayList<>();
    long launch;

    Cluster(String product) {
      this.product = product;
    }

    static Cluster start(String product, boolean fast) throws Exception {
      Cluster c = new Cluster(product);
      String name = "bench-" + product + "-" + UUID.randomUUID().toString().substring(0, 8);
      String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
      List<ProcessBuilder> pbs = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        if (fast && product.equals("bop")) cmd.add("-Dvertx.bop.timeout=2000");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(NodeMain.class.getName());
        cmd.addAll(List.of(product, name, String.valueOf(i), "3", String.valueOf(fast)));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(new File(logDir, name + "-" + i + ".log"));
        pbs.add(pb);
      }
      c.launch = System.currentTimeMillis();
      try {
        for (int i = 0; i < 3; i++) c.nodes.add(new Node(i, pbs.get(i).start()));
        for (Node n : c.nodes) {
          String[] f = n.expect(180_000).split(" ");
          if (!f[0].equals("READY")) throw new IllegalStateException("unexpected " + String.join(" ", f));
          n.buildStart = Long.parseLong(f[2]);
          n.formed = Long.parseLong(f[4]);
          n.nodeId = f[5];
        }
      } catch (Exception e) {
        c.close();
        throw e;
      }
      log(product + " cluster " + name + " up (logs in " + logDir + ")");
      return c;
    }

    /** After a failed section: wait until every live node has finished its command, drop stale answers. */
    void resync() {
      for (Node n : nodes) {
        if (n.dead || !n.process.isAlive()) continue;
        try {
          n.send("PING");
          long deadline = System.currentTimeMillis() + 120_000;
          while (System.currentTimeMillis() < deadline) {
            String l = n.lines.poll(1, TimeUnit.SECONDS);
            if (l != null && (l.startsWith("PONG") || l.equals("EOF"))) break;
          }
        } catch (Exception e) {
          log("resync of node " + n.index + " failed: " + e);
        }
      }
    }

    long maxFormed() {
      return nodes.stream().mapToLong(n -> n.formed).max().getAsLong();
    }

    long maxInJvm() {
      return nodes.stream().mapToLong(n -> n.formed - n.buildStart).max().getAsLong();
    }

    void close() {
      for (Node n : nodes) {
        if (n.dead || !n.process.isAlive()) continue;
        try {
          n.send("EXIT");
        } catch (Exception ignored) {
        }
      }
      for (Node n : nodes) {
        try {
          if (!n.process.waitFor(quick ? 10 : 20, TimeUnit.SECONDS)) n.process.destroyForcibly().waitFor();
        } catch (InterruptedException ignored) {
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------------

  static final class Row {
    final String label, key, goal;
    final int goalKind; // 0 none, 1 ratio <= goalValue, 2 ratio >= goalValue
    final double goalValue;
    final String fmt;

    Row(String label, String key, String fmt, int goalKind, double goalValue, String goal) {
      this.label = label; this.key = key; this.fmt = fmt; this.goalKind = goalKind;
      this.goalValue = goalValue; this.goal = goal;
    }
  }

  static void printTable(Map<String, Map<String, Object>> res, boolean defaultFailure, long seconds) throws Exception {
    String tp = "per s";
    List<Row> rows = List.of(
        new Row("cluster formation: launch of 3 JVMs -> every node sees 3 members (ms)", "formLaunch", "%.0f", 1, 0.1, "10x faster (ratio <= 0.1)"),
        new Row("cluster formation in the JVM: buildClustered() -> 3 members, slowest node (ms)", "formJvm", "%.0f", 1, 0.1, "10x faster (ratio <= 0.1)"),
        new Row("AsyncMap put latency p50, 1 in flight (us)", "putP50", "%.0f", 1, 0.5, "at most half (ratio <= 0.5)"),
        new Row("AsyncMap put latency p99, 1 in flight (us)", "putP99", "%.0f", 1, 0.5, "at most half (ratio <= 0.5)"),
        new Row("AsyncMap get latency p50, 1 in flight (us)", "getP50", "%.0f", 1, 0.5, "at most half (ratio <= 0.5)"),
        new Row("AsyncMap get latency p99, 1 in flight (us)", "getP99", "%.0f", 1, 0.5, "at most half (ratio <= 0.5)"),
        new Row("AsyncMap put throughput, 64 in flight on each of 3 nodes (ops/s)", "mapPut", "%.0f", 2, 2, "2x (ratio >= 2)"),
        new Row("AsyncMap get throughput, 64 in flight on each of 3 nodes (ops/s)", "mapGet", "%.0f", 2, 2, "2x (ratio >= 2)"),
        new Row("Counter incrementAndGet, 64 in flight on each of 3 nodes (ops/s)", "counter", "%.0f", 2, 2, "2x (ratio >= 2)"),
        new Row("Lock acquire+release, one lock, 1 waiter on each of 3 nodes (cycles/s)", "lockC", "%.0f", 2, 2, "2x (ratio >= 2)"),
        new Row("Lock acquire+release, uncontended, 8 chains x 1024 locks on each of 3 nodes (cycles/s)", "lockU", "%.0f", 2, 2, "2x (ratio >= 2)"),
        new Row("event bus request-reply node 0 -> node 1, 64 in flight (msg/s)", "ebrr", "%.0f", 2, 1, "at least equal (ratio >= 1)"),
        new Row("consumer register+unregister, 8 chains on each of 3 nodes (cycles/s)", "churn", "%.0f", 2, 3, "3x (ratio >= 3)"),
        new Row("failure detection, kill -9 -> both others drop it, defaults (ms)", "failDefault", "%.0f", 0, 0, "-"),
        new Row("failure detection, kill -9 -> both others drop it, 2 s timeout (ms)", "fail2s", "%.0f", 0, 0, "-"),
        new Row("JVM heap used per node after 10,000 x 1 KiB entries, after GC (MiB, mean of 3)", "heap", "%.1f", 1, 0.1, "a tenth (ratio <= 0.1)"),
        new Row("JVM heap growth per node from those entries: after minus before filling (MiB, mean of 3)", "heapGrowth", "%.1f", 0, 0, "-"),
        new Row("process RSS per node after 10,000 x 1 KiB entries (MiB, mean of 3)", "rss", "%.1f", 0, 0, "-"));

    Map<String, Object> bop = res.getOrDefault("bop", Map.of());
    Map<String, Object> hz = res.getOrDefault("hz", Map.of());
    String cpu = "?";
    try {
      for (String l : Files.readAllLines(Paths.get("/proc/cpuinfo"))) {
        if (l.startsWith("model name")) { cpu = l.substring(l.indexOf(':') + 1).trim(); break; }
      }
    } catch (Exception ignored) {
    }
    StringBuilder out = new StringBuilder();
    out.append("\nBopClusterManager vs vertx-hazelcast 5.0.7, 3 nodes in separate JVMs on one host\n");
    out.append(String.format(Locale.ROOT, "date %s, %d cores, %s, Java %s, mode %s, run took %d s%n",
        LocalDate.now(), Runtime.getRuntime().availableProcessors(), cpu, System.getProperty("java.version"),
        quick ? "--quick" : "full", seconds));
    out.append(String.format(Locale.ROOT, "throughput rows: %d ms each after an untimed warm-up of a fifth of that; latency rows: %d samples (%d per node, nodes in turn, after %d warm-up ops)%n%n",
        tputMs, latN * 3, latN, latWarm));
    out.append("| row | bop | hazelcast | bop/hazelcast | goal | verdict |\n");
    out.append("|---|---|---|---|---|---|\n");
    for (Row row : rows) {
      Object b = bop.get(row.key), h = hz.get(row.key);
      String why = null;
      if (row.key.equals("failDefault") && !defaultFailure) why = "not measured (--quick: Hazelcast's default takes 60 s)";
      String bs = cell(b, row.fmt, why, bop), hs = cell(h, row.fmt, why, hz);
      String ratio = "-", verdict = "-";
      if (b instanceof Double && h instanceof Double && (Double) h != 0) {
        double q = (Double) b / (Double) h;
        ratio = String.format(Locale.ROOT, q < 0.1 ? "%.3f" : "%.2f", q);
        if (row.goalKind == 1) verdict = q <= row.goalValue ? "met" : "**not met**";
        if (row.goalKind == 2) verdict = q >= row.goalValue ? "met" : "**not met**";
      } else if (row.goalKind != 0) {
        verdict = "not measured";
      }
      out.append("| ").append(row.label).append(" | ").append(bs).append(" | ").append(hs).append(" | ")
          .append(ratio).append(" | ").append(row.goal).append(" | ").append(verdict).append(" |\n");
    }
    out.append("\nper node memory: bop:").append(bop.getOrDefault("memPerNode", " -"))
        .append("\n                 hazelcast:").append(hz.getOrDefault("memPerNode", " -")).append('\n');
    out.append("formation of the second (2 s timeout) cluster, launch -> 3 members (ms): bop ")
        .append(cell(bop.get("formLaunch2s"), "%.0f", null, bop)).append(", hazelcast ")
        .append(cell(hz.get("formLaunch2s"), "%.0f", null, hz)).append('\n');
    for (Map.Entry<String, Map<String, Object>> e : res.entrySet()) {
      if (e.getValue().containsKey("error")) out.append(e.getKey()).append(": ").append(e.getValue().get("error")).append('\n');
    }
    System.out.print(out);
    System.out.flush();
  }

  static String cell(Object v, String fmt, String why, Map<String, Object> all) {
    if (v instanceof Double) return String.format(Locale.ROOT, fmt, (Double) v);
    if (why != null) return why;
    if (v instanceof String) return "not measured (" + v + ")";
    if (all.containsKey("error")) return "not measured (no cluster)";
    return "not measured";
  }
}
