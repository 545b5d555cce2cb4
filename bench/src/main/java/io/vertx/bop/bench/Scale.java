package io.vertx.bop.bench;

import io.vertx.core.Vertx;
import io.vertx.spi.cluster.bop.BopClusterManager;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The scale benchmark: clusters of N members started together, in this JVM and spread
 * over child JVMs, at the manager's defaults (local discovery on this host). Prints one Markdown
 * table on stdout; progress on stderr.
 *
 * <p>Per cluster: formation (from the start of all nodes until every one lists N members, and until
 * every node's {@code buildClustered()} has completed, each timed in the JVM where it happens;
 * over child JVMs from the moment every child has loaded Vert.x, and from their launch), map put and get
 * latency from one member with one request in flight (p50, p99), registration fan-out (from
 * {@code consumer()} on one member until every member's request was answered, and until a request
 * from every member reached the consumer: first when no member has an event-bus connection to
 * it yet, then for a second address), memory per
 * member (resident set growth, and heap after GC, divided by N), and the time until writes resume
 * after the leader stops abruptly: in this JVM its node is closed without leaving; over child JVMs
 * (this JVM then holds no member and only drives them) the leader's JVM is killed (SIGKILL).
 *
 * <p>Arguments: {@code [--sizes 10,30,100] [--jvms 20] [--spread 100] [--ops 2000]};
 * {@code --spread 0} skips the multi-JVM run, {@code --sizes ''} the one-JVM runs. The system
 * property {@code bench.childOpts} (JVM options separated by spaces) is passed on to every child
 * JVM; {@code scripts/bench-scale.sh}
 * passes {@code BENCH_JAVA_OPTS} as both. Diagnostics, off by default (logged on stderr, or in
 * the child JVMs' logs): {@code -Dbench.idleMs=N} measures the CPU the cluster uses over N ms of
 * doing nothing once formed (in all, and in the node loops); {@code -Dbench.fanRetryMs=N} sets
 * how long a member waits before it requests an unanswered fan-out address again (1 ms);
 * {@code -Dbench.probeVisible=true} also logs when each member's cluster manager first lists a
 * fan-out's registration, apart from Vert.x's sending; {@code -Dbench.joinTimes=true} logs, in
 * each child JVM at formation, when each of its members was handed its Vert.x instance, asked to
 * join, joined, was asked to set its node info, had set it, and had started (ms after GO), then
 * in each fan-out its members' registrations and node info reads ({@code ScaleNodes.TimedManager}),
 * and this JVM logs the child JVMs' CPU from GO to formation; {@code -Dbench.settledFans=N} runs
 * N more fan-outs after the second, each after {@code -Dbench.settleMs} (2000) ms of rest and
 * repeated to its address after as long again (Vert.x then sends without asking the manager), and
 * logs them; {@code -Dbench.churnMs=N}, in each one-JVM run, has the put and get probe (a learner)
 * run 8 chains of consumer register+unregister for N ms, then 8 chains of map puts, and logs both
 * rates.
 */
public final class Scale {

  private static int ops = 2000;

  public static void main(String[] args) throws Exception {
    List<Integer> sizes = Arrays.asList(10, 30, 100);
    int jvms = 20;
    int spread = 100;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--sizes":
          sizes = new ArrayList<>();
          for (String s : args[++i].split(",")) {
            if (!s.isEmpty()) {
              sizes.add(Integer.parseInt(s));
            }
          }
          break;
        case "--jvms":
          jvms = Integer.parseInt(args[++i]);
          break;
        case "--spread":
          spread = Integer.parseInt(args[++i]);
          break;
        case "--ops":
          ops = Integer.parseInt(args[++i]);
          break;
        default:
          throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    List<String> rows = new ArrayList<>();
    for (int n : sizes) {
      rows.add(inProcess(n));
    }
    if (spread > 0) {
      rows.add(multiJvm(spread, jvms));
    }
    System.out.println("| setup | members | formation: all list N / all started (ms) | put p50 / p99 (ms) | get p50 / p99 (ms) | fan-out, first contact: answered / reached (ms) | fan-out, connected: answered / reached (ms) "
      + "| memory per member: RSS / heap (MiB) | writes resume after the leader stops (ms) |");
    System.out.println("|---|---|---|---|---|---|---|---|---|");
    rows.forEach(System.out::println);
  }

  private static String inProcess(int n) throws Exception {
    String cluster = "scale-" + n + "-" + UUID.randomUUID();
    gc();
    long rssBefore = ScaleNodes.rss();
    long heapBefore = heapUsed();
    log("in-process: starting " + n + " members");
    long t0 = System.currentTimeMillis();
    ScaleNodes s = ScaleNodes.launch(cluster, n);
    long[] formed = s.formed(n);
    String formation = (formed[0] - t0) + " / " + (formed[1] - t0);
    log("in-process: every member lists " + n + " / every Vert.x node started: " + formation + " ms");
    idleCpu("in-process, " + n + " members", Collections.singletonList(ProcessHandle.current().pid()));
    Vertx probe = s.nodes.get(n - 1);
    String latency = ScaleNodes.latency(probe, ops);
    Vertx owner = s.nodes.get(0);
    String fan = fanOut(new Registrar() {
      @Override
      public void register(String address) {
        ScaleNodes.consumeFan(owner, address);
      }

      @Override
      public String reached(String address, long startedMillis) {
        return ScaleNodes.reached(address, startedMillis);
      }
    }, s, new ArrayList<>());
    long churnMs = Long.getLong("bench.churnMs", 0);
    if (churnMs > 0) {
      log("in-process, " + n + " members: 8 chains of register+unregister / of puts on a learner (cycles/s): "
        + ScaleNodes.churn(probe, 8, churnMs));
    }
    gc();
    double rss = (ScaleNodes.rss() - rssBefore) / (double) n / (1 << 20);
    double heap = (heapUsed() - heapBefore) / (double) n / (1 << 20);
    long resume = writesResume(s);
    s.close();
    return String.format("| one JVM | %d | %s | %s | %s | %.1f / %.1f | %d |", n, formation, latency, fan, rss, heap, resume);
  }

  /**
   * {@code n} members spread over {@code jvms} child JVMs; this JVM holds none and only drives
   * them, so the leader is always in a child whose JVM can be killed, and the put and get probe
   * is a member of a JVM that does not hold the leader.
   */
  private static String multiJvm(int n, int jvms) throws Exception {
    String cluster = "scale-jvms-" + n + "-" + UUID.randomUUID();
    log("spread: starting " + n + " members over " + jvms + " JVMs");
    List<Child> children = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int j = 0; j < jvms; j++) {
      int count = n / jvms + (j < n % jvms ? 1 : 0);
      children.add(new Child(cluster, count, n, j));
    }
    for (Child c : children) {
      c.expect("LOADED");
    }
    long loaded = System.nanoTime();
    log("spread: " + jvms + " JVMs launched and loaded Vert.x in " + ms(loaded - t0) + " ms");
    List<Long> pids = new ArrayList<>();
    for (Child c : children) {
      pids.add(c.process.pid());
    }
    CompletableFuture<Void> formed = new CompletableFuture<>();
    sampleCpu("spread", pids, formed);
    long go = System.currentTimeMillis();
    for (Child c : children) {
      c.send("GO");
    }
    for (Child c : children) {
      c.expect("LAUNCHED");
    }
    // Each JVM times when its own nodes list n members and have started (one clock: one host).
    long listed = 0;
    long started = 0;
    for (Child c : children) {
      String[] f = c.call("FORMED").split(" ");
      listed = Math.max(listed, Long.parseLong(f[0]));
      started = Math.max(started, Long.parseLong(f[1]));
    }
    long launch = ms(loaded - t0);
    String formation = (listed - go) + " / " + (started - go) + " (from launch: "
      + (launch + listed - go) + " / " + (launch + started - go) + ")";
    formed.complete(null);
    log("spread: every member lists " + n + " / every Vert.x node started, from GO: " + formation + " ms");
    idleCpu("spread", pids);
    Child leader = null;
    Child probe = null;
    for (Child c : children) {
      if (Boolean.parseBoolean(c.call("LEADS"))) {
        log("JVM " + children.indexOf(c) + " holds the leader");
        leader = c;
      } else if (probe == null) {
        probe = c;
      }
    }
    Child owner = probe;
    String latency = probe.call("LATENCY " + ops);
    String fan = fanOut(new Registrar() {
      @Override
      public void register(String address) throws Exception {
        owner.call("CONSUME " + address);
      }

      @Override
      public String reached(String address, long startedMillis) throws Exception {
        return owner.call("REACHED " + address + " " + startedMillis);
      }
    }, null, children);
    long rss = 0;
    for (Child c : children) {
      rss += Long.parseLong(c.call("RSS"));
    }
    String resume = "- (no member led)";
    if (leader != null) {
      long killedAt = System.currentTimeMillis();
      leader.process.destroyForcibly();
      children.remove(leader);
      long resumed = Long.parseLong(probe.call("RESUME " + killedAt));
      if (resumed < 0) {
        log("spread: no write accepted within " + ScaleNodes.RESUME_LIMIT_MS + " ms after the leader's JVM was killed");
        resume = "none within " + ScaleNodes.RESUME_LIMIT_MS + " (its JVM killed)";
      } else {
        log("spread: writes resumed " + resumed + " ms after the leader's JVM was killed");
        resume = resumed + " (its JVM killed)";
      }
      leader.process.waitFor(60, TimeUnit.SECONDS);
    }
    for (Child c : children) {
      c.exit();
    }
    return String.format("| %d JVMs of %d members (RSS counts each JVM's own overhead) | %d | %s | %s | %s | %.1f / - | %s |",
      jvms, n / jvms, n, formation, latency, fan, rss / (double) n / (1 << 20), resume);
  }

  /** The member that owns a fan-out. */
  private interface Registrar {
    /** Registers the fan-out's consumer ({@link ScaleNodes#consumeFan}) for {@code address}. */
    void register(String address) throws Exception;

    /** {@link ScaleNodes#reached}: "ms count", when the last member's first request reached the consumer. */
    String reached(String address, long startedMillis) throws Exception;
  }

  /**
   * Registers a consumer on the owning member and has every member request it until answered;
   * twice: first while no member has talked to the owner yet (each request also opens the event
   * bus's connection), then for a second address once the first is answered everywhere. The
   * members are those of {@code local} (null when this JVM holds none) and of {@code children}.
   * With {@code -Dbench.settledFans=N}, N more fan-outs follow, each to a new address after
   * {@code bench.settleMs} (2000) ms of rest and then again to the same address after as long
   * (every member's Vert.x then routes by the registrations it holds), logged only. Returns
   * "first | second", each as {@link #fanOutOnce} gives it.
   */
  private static String fanOut(Registrar owner, ScaleNodes local, List<Child> children) throws Exception {
    String first = fanOutOnce(owner, local, children, "fan." + UUID.randomUUID(), true);
    String second = fanOutOnce(owner, local, children, "fan." + UUID.randomUUID(), true);
    long settleMs = Long.getLong("bench.settleMs", 2_000);
    for (int i = 0; i < Integer.getInteger("bench.settledFans", 0); i++) {
      Thread.sleep(settleMs);
      String address = "fan." + UUID.randomUUID();
      log("settled fan-out " + (i + 1) + ": " + fanOutOnce(owner, local, children, address, true) + " ms");
      Thread.sleep(settleMs);
      log("settled fan-out " + (i + 1) + " again, to the address every member has sent to: "
        + fanOutOnce(owner, local, children, address, false) + " ms");
    }
    return first + " | " + second;
  }

  /**
   * One fan-out to {@code address}: "answered / reached", the ms from the consumer's registration
   * being asked for (from the start, when {@code register} is false: the consumer is there
   * already) until every member had its answer, and until the first request of every member had
   * reached the consumer (the measure; one host, one clock).
   */
  private static String fanOutOnce(Registrar owner, ScaleNodes local, List<Child> children, String address,
      boolean register) throws Exception {
    long started = System.currentTimeMillis();
    if (register) {
      owner.register(address);
    }
    for (Child c : children) {
      c.send("FAN " + address + " " + started);
    }
    List<Long> times = local == null ? new ArrayList<>() : new ArrayList<>(local.fan(address, started));
    for (Child c : children) {
      String reply = c.reply();
      log("fan-out to " + address + ": JVM " + children.indexOf(c) + " answered after " + reply + " ms");
      for (String t : reply.split(",")) {
        times.add(Long.parseLong(t));
      }
    }
    times.sort(null);
    long last = times.get(times.size() - 1);
    String[] reached = owner.reached(address, started).split(" ");
    if (Integer.parseInt(reached[1]) != times.size()) {
      throw new IllegalStateException("the consumer of " + address + " heard from " + reached[1] + " members of " + times.size());
    }
    log("fan-out to " + address + ": last member answered after " + last + " ms, median "
      + times.get(times.size() / 2) + " ms; the last member's first request reached the consumer after " + reached[0] + " ms");
    return last + " / " + reached[0];
  }

  /** Stops the leader without leaving; the milliseconds until a put from another member succeeds. */
  private static long writesResume(ScaleNodes s) throws Exception {
    int leader = -1;
    for (int i = 0; i < s.managers.size(); i++) {
      if (((BopClusterManager) s.managers.get(i)).node().status().isLeader()) {
        leader = i;
      }
    }
    if (leader < 0) {
      return -1;
    }
    Vertx writer = s.nodes.get(leader == 0 ? 1 : 0);
    long t0 = System.currentTimeMillis();
    ((BopClusterManager) s.managers.get(leader)).node().close();
    long resumed = ScaleNodes.putUntilAccepted(writer, t0);
    log("writes resumed " + resumed + " ms after the leader stopped");
    return resumed;
  }

  private static long heapUsed() {
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static void gc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100);
    }
  }

  private static long ms(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  static void log(String s) {
    System.err.println("[scale] " + s);
  }

  /** Indexes of {@link #cpuTicks}'s answer. */
  private static final int ALL = 0, NATIVE = 1, LOOPS = 2;

  /**
   * User and system CPU ticks (1/100 s) used so far by the processes {@code pids}: in all
   * ({@link #ALL}), by the native core's threads ({@link #NATIVE}: "vertx-cluster-..."), and by
   * its node loops' alone ({@link #LOOPS}: "vertx-cluster-loop-...", "vertx-cluster-l" once the
   * kernel has cut the name to 15 characters).
   */
  static long[] cpuTicks(List<Long> pids) throws Exception {
    long all = 0;
    long loops = 0;
    long nativeThreads = 0;
    for (long pid : pids) {
      File[] tasks = new File("/proc/" + pid + "/task").listFiles();
      if (tasks == null) {
        continue;
      }
      for (File task : tasks) {
        try {
          String stat = new String(Files.readAllBytes(new File(task, "stat").toPath()), StandardCharsets.UTF_8);
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          long used = Long.parseLong(f[11]) + Long.parseLong(f[12]);
          all += used;
          String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          if (name.startsWith("vertx-cluster-l")) {
            loops += used;
          }
          if (name.startsWith("vertx-cluster-")) {
            nativeThreads += used;
          }
        } catch (IOException threadEnded) {
          // Gone between the listing and the read.
        }
      }
    }
    return new long[] {all, nativeThreads, loops};
  }

  /**
   * With {@code -Dbench.joinTimes=true}: samples the CPU of {@code pids} about every 500 ms from now
   * until {@code done} completes, then logs each interval's use (in cores: all / the native
   * core's threads / its node loops alone), to see who holds the CPU while a cluster forms.
   */
  static void sampleCpu(String setup, List<Long> pids, CompletableFuture<?> done) {
    if (!ScaleNodes.JOIN_TIMES) {
      return;
    }
    Thread t = new Thread(() -> {
      StringBuilder line = new StringBuilder(setup + ": CPU in cores every 500 ms from GO (all / native / node loops):");
      try {
        long[] before = cpuTicks(pids);
        long since = System.nanoTime();
        while (!done.isDone()) {
          Thread.sleep(500);
          long[] now = cpuTicks(pids);
          long at = System.nanoTime();
          // Ticks are 1/100 s; the interval is measured, as a busy machine oversleeps.
          double ticks = (at - since) / 1e7;
          line.append(String.format(" %.2f/%.2f/%.2f", (now[ALL] - before[ALL]) / ticks,
            (now[NATIVE] - before[NATIVE]) / ticks, (now[LOOPS] - before[LOOPS]) / ticks));
          before = now;
          since = at;
        }
      } catch (Exception e) {
        line.append(" (stopped: ").append(e).append(')');
      }
      log(line.toString());
    }, "scale-cpu-sampler");
    t.setDaemon(true);
    t.start();
  }

  /**
   * With {@code -Dbench.idleMs=N}: waits 2 s once the cluster formed, then logs the CPU the
   * processes {@code pids} used over N ms of doing nothing: in all, and in the node loops.
   */
  static void idleCpu(String setup, List<Long> pids) throws Exception {
    long idleMs = Long.getLong("bench.idleMs", 0);
    if (idleMs <= 0) {
      return;
    }
    Thread.sleep(2_000);
    long[] before = cpuTicks(pids);
    long since = System.nanoTime();
    Thread.sleep(idleMs);
    long[] after = cpuTicks(pids);
    // Ticks of 1/100 s over the measured interval, in % of one core.
    double perCore = (System.nanoTime() - since) / 1e9;
    log(String.format("%s: idle for %d ms, used %.1f%% of one core, %.1f%% in the node loops", setup, idleMs,
      (after[ALL] - before[ALL]) / perCore, (after[LOOPS] - before[LOOPS]) / perCore));
  }

  /** A child JVM running {@link ScaleNodes}. */
  private static final class Child {
    final Process process;
    final BufferedReader out;
    final Writer in;

    Child(String cluster, int count, int size, int index) throws Exception {
      File logDir = new File(System.getProperty("bench.logDir", "target/bench-logs"));
      logDir.mkdirs();
      List<String> cmd = new ArrayList<>(Arrays.asList(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:+UseSerialGC"));
      for (String opt : System.getProperty("bench.childOpts", "").trim().split("\\s+")) {
        if (!opt.isEmpty()) {
          cmd.add(opt);
        }
      }
      cmd.addAll(Arrays.asList("-cp", System.getProperty("java.class.path"),
        ScaleNodes.class.getName(), cluster, Integer.toString(count), Integer.toString(size)));
      process = new ProcessBuilder(cmd).redirectError(new File(logDir, "scale-" + index + ".log")).start();
      out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    }

    void send(String command) throws Exception {
      in.write(command + "\n");
      in.flush();
    }

    String reply() throws Exception {
      for (String l = out.readLine(); l != null; l = out.readLine()) {
        if (l.startsWith("@@ ")) {
          String r = l.substring(3);
          if (r.startsWith("ERR")) {
            throw new IllegalStateException(r);
          }
          return r;
        }
      }
      throw new IllegalStateException("a child JVM ended");
    }

    String call(String command) throws Exception {
      send(command);
      return reply();
    }

    void expect(String what) throws Exception {
      String r = reply();
      if (!r.equals(what)) {
        throw new IllegalStateException("expected " + what + ", got " + r);
      }
    }

    void exit() throws Exception {
      send("EXIT");
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }
}
