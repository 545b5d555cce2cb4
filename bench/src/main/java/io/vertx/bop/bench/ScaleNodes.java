package io.vertx.bop.bench;

import io.vertx.core.Completable;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.core.spi.cluster.NodeInfo;
import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.bop.impl.jni.BopNodeStatus;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.IntFunction;

/**
 * Several clustered Vert.x nodes in one JVM, for {@link Scale}: in the benchmark's own JVM, or in a
 * child JVM driven over stdin/stdout ({@code main}: arguments {@code clusterName count clusterSize};
 * answers {@code @@ LOADED} once Vert.x is loaded, launches its nodes on {@code GO} and answers
 * {@code @@ LAUNCHED}, then one {@code @@} line per command: {@code FORMED} (two wall-clock times
 * in ms: when all its nodes first listed {@code clusterSize} members, and when the last of their
 * Vert.x instances had started), {@code FAN address} (every node requests {@code address} until answered;
 * the answer is each node's milliseconds until it was, comma-separated), {@code RSS} (this JVM's resident set in
 * bytes), {@code CONSUME address} (its first node registers a consumer that answers "ok"),
 * {@code REACHED address since} (for an address it owns: the ms from {@code since} until the
 * last member's first request reached its consumer, and how many members' requests did),
 * {@code LATENCY ops} (put and get latency from its last node, as "p50 / p99 | p50 / p99" in ms),
 * {@code LEADS} ({@code true} when one of its nodes leads the cluster), {@code RESUME since}
 * (puts from its last node until one is accepted; the answer is the wall-clock milliseconds from
 * {@code since} until then), {@code EXIT}).
 */
public final class ScaleNodes {

  final List<Vertx> nodes = new ArrayList<>();
  final List<ClusterManager> managers = new ArrayList<>();

  /** How long {@link #putUntilAccepted} tries. */
  static final long RESUME_LIMIT_MS = 30_000;

  /** Nodes being started; {@link #awaitStarted} fills {@link #nodes}. */
  private final List<Future<Vertx>> starting = new ArrayList<>();
  /** The wall-clock time at which the last of {@link #starting} completed so far. */
  private final AtomicLong lastStarted = new AtomicLong();

  /** Starts {@code count} nodes of {@code clusterName} together and waits until every one is up. */
  static ScaleNodes start(String clusterName, int count) throws Exception {
    return launch(clusterName, count).awaitStarted();
  }

  /**
   * Starts {@code count} nodes of {@code clusterName} together without waiting: their managers
   * list the members as soon as each has joined, before Vert.x has finished starting the node.
   */
  static ScaleNodes launch(String clusterName, int count) {
    ScaleNodes s = new ScaleNodes();
    for (int i = 0; i < count; i++) {
      BopClusterOptions options = new BopClusterOptions().setClusterName(clusterName);
      BopClusterManager manager = JOIN_TIMES ? new TimedManager(options) : new BopClusterManager(options);
      s.managers.add(manager);
      Future<Vertx> f = Vertx.builder().withClusterManager(manager).buildClustered();
      f.onComplete(ar -> {
        long now = System.currentTimeMillis();
        s.lastStarted.accumulateAndGet(now, Math::max);
        if (manager instanceof TimedManager) {
          ((TimedManager) manager).times.set(TimedManager.STARTED, now);
        }
      });
      s.starting.add(f);
    }
    return s;
  }

  /**
   * Waits until every node of this JVM lists {@code n} members and every one has started; the
   * wall-clock times (ms) of the first moment all listed {@code n}, and of the last start.
   */
  long[] formed(int n) throws Exception {
    while (fewestMembers() < n) {
      Thread.sleep(1);
    }
    long listed = System.currentTimeMillis();
    awaitStarted();
    return new long[] {listed, lastStarted.get()};
  }

  /** With {@code -Dbench.joinTimes=true}: each member's join is timed (see {@link TimedManager}). */
  static final boolean JOIN_TIMES = Boolean.getBoolean("bench.joinTimes");

  /**
   * A manager that records (wall-clock ms) when Vert.x handed it its instance ({@code init}),
   * asked it to join, the join completed, Vert.x asked it to set its node info (once its
   * event-bus server was bound), that write completed, and {@code buildClustered()} completed:
   * how much of a formation is the JVM's and Vert.x's, and how much the manager's. During a
   * fan-out it also times Vert.x's reads of the address's registrations and of node info.
   */
  static final class TimedManager extends BopClusterManager {
    static final int INIT = 0, JOIN_ASKED = 1, JOINED = 2, NODE_INFO_ASKED = 3, NODE_INFO_SET = 4, STARTED = 5;
    /** Indexed by the constants above; written on Vert.x's and the manager's threads. */
    final AtomicLongArray times = new AtomicLongArray(6);
    /**
     * Per fan-out address: when Vert.x first asked for its registrations, when that read was
     * answered, and how many registrations it listed (-1: it failed).
     */
    final Map<String, long[]> reads = new ConcurrentHashMap<>();
    /** Vert.x's node info reads (it reads a member's before it connects to it): asked / answered (ms) / 1 if it succeeded. */
    final List<long[]> nodeInfoReads = Collections.synchronizedList(new ArrayList<>());

    TimedManager(BopClusterOptions options) {
      super(options);
    }

    @Override
    public void init(Vertx vertx) {
      times.set(INIT, System.currentTimeMillis());
      super.init(vertx);
    }

    @Override
    public void getRegistrations(String address, Completable<List<RegistrationInfo>> promise) {
      if (!address.startsWith("fan.")) {
        super.getRegistrations(address, promise);
        return;
      }
      long[] t = reads.computeIfAbsent(address, a -> new long[] {System.currentTimeMillis(), 0, 0});
      super.getRegistrations(address, (list, err) -> {
        synchronized (t) {
          if (t[1] == 0) {
            t[1] = System.currentTimeMillis();
            t[2] = list == null ? -1 : list.size();
          }
        }
        promise.complete(list, err);
      });
    }

    @Override
    public void getNodeInfo(String id, Completable<NodeInfo> promise) {
      long[] t = {System.currentTimeMillis(), 0, 0};
      nodeInfoReads.add(t);
      super.getNodeInfo(id, (info, err) -> {
        synchronized (t) {
          t[1] = System.currentTimeMillis();
          t[2] = err == null ? 1 : 0;
        }
        promise.complete(info, err);
      });
    }

    @Override
    public void setNodeInfo(NodeInfo nodeInfo, Completable<Void> promise) {
      times.set(NODE_INFO_ASKED, System.currentTimeMillis());
      super.setNodeInfo(nodeInfo, (v, err) -> {
        times.set(NODE_INFO_SET, System.currentTimeMillis());
        promise.complete(v, err);
      });
    }

    @Override
    public void join(Completable<Void> promise) {
      times.set(JOIN_ASKED, System.currentTimeMillis());
      super.join((v, err) -> {
        times.set(JOINED, System.currentTimeMillis());
        promise.complete(v, err);
      });
    }
  }

  /**
   * With {@code bench.joinTimes}: "init / join asked / joined / node info asked / node info set /
   * started" of each member, in ms after {@code go}.
   */
  String joinTimeline(long go) {
    StringBuilder b = new StringBuilder();
    for (ClusterManager m : managers) {
      AtomicLongArray t = ((TimedManager) m).times;
      for (int i = 0; i < t.length(); i++) {
        b.append(i > 0 ? "/" : b.length() == 0 ? "" : " ").append(t.get(i) - go);
      }
    }
    return b.toString();
  }

  /** Waits until every node launched is up (its {@code buildClustered()} has completed). */
  ScaleNodes awaitStarted() throws Exception {
    if (nodes.isEmpty()) {
      for (Future<Vertx> f : starting) {
        nodes.add(get(f, 300_000));
      }
    }
    return this;
  }

  /** The fewest members any node of this JVM sees. */
  int fewestMembers() {
    int fewest = Integer.MAX_VALUE;
    for (ClusterManager m : managers) {
      fewest = Math.min(fewest, m.getNodes().size());
    }
    return fewest;
  }

  /** Every node requests {@code address} until it is answered; each node's milliseconds until its answer. */
  List<Long> fan(String address, long startedMillis) throws Exception {
    System.err.println("[scale] FAN " + address + " received " + (System.currentTimeMillis() - startedMillis)
      + " ms after the consumer was asked for");
    if (Boolean.getBoolean("bench.probeVisible")) {
      probeVisible(address, startedMillis);
    }
    List<Future<Long>> answered = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      Promise<Long> p = Promise.promise();
      attempt(nodes.get(i), ProcessHandle.current().pid() + "/" + i + "@" + startedMillis, address, startedMillis, p);
      answered.add(p.future());
    }
    List<Long> times = new ArrayList<>();
    for (Future<Long> f : answered) {
      times.add(get(f, 120_000));
    }
    if (JOIN_TIMES) {
      logFanReads(address, startedMillis, times);
    }
    return times;
  }

  /**
   * With {@code bench.joinTimes}: each member's first registrations read of a fan-out's address
   * (asked / answered, and how many it listed) beside its answer, and the node info reads made
   * since the last fan-out, in ms after the consumer was asked for.
   */
  private void logFanReads(String address, long startedMillis, List<Long> times) {
    StringBuilder line = new StringBuilder("[scale] " + address + ": Vert.x's first registrations read asked / answered (registrations listed), then answered, ms after the consumer was asked for:");
    for (int i = 0; i < managers.size(); i++) {
      long[] t = ((TimedManager) managers.get(i)).reads.getOrDefault(address, new long[] {startedMillis, startedMillis, -2});
      synchronized (t) {
        line.append(' ').append(t[0] - startedMillis).append('/').append(t[1] - startedMillis).append('(').append(t[2]).append(")/").append(times.get(i));
      }
    }
    System.err.println(line);
    for (int i = 0; i < managers.size(); i++) {
      List<long[]> infos = ((TimedManager) managers.get(i)).nodeInfoReads;
      synchronized (infos) {
        if (infos.isEmpty()) {
          continue;
        }
        StringBuilder l = new StringBuilder("[scale] member " + i + ": node info reads asked / answered (ok), ms after the consumer was asked for:");
        for (long[] t : infos) {
          synchronized (t) {
            l.append(' ').append(t[0] - startedMillis).append('/').append(t[1] - startedMillis).append('(').append(t[2]).append(')');
          }
        }
        infos.clear();
        System.err.println(l);
      }
    }
  }

  /**
   * With {@code -Dbench.probeVisible=true}: beside the event-bus requests of a fan-out, each
   * member also asks its cluster manager for the address's registrations (the read Vert.x makes
   * before each send) every {@link #FAN_RETRY_MS} ms until it lists one, and logs when it did
   * and how long that read took: the time the registration took to be seen, apart from
   * Vert.x's own sending.
   */
  private void probeVisible(String address, long startedMillis) {
    List<CompletableFuture<long[]>> seen = new ArrayList<>();
    for (int i = 0; i < managers.size(); i++) {
      CompletableFuture<long[]> done = new CompletableFuture<>();
      probe(nodes.get(i), managers.get(i), address, startedMillis, done);
      seen.add(done);
    }
    CompletableFuture.allOf(seen.toArray(new CompletableFuture[0])).thenRun(() -> {
      StringBuilder line = new StringBuilder("[scale] registration of " + address + " seen (ms after the consumer was asked for / that read's ms):");
      for (CompletableFuture<long[]> f : seen) {
        long[] t = f.join();
        line.append(' ').append(t[0]).append('/').append(t[1]);
      }
      System.err.println(line);
    });
  }

  private static void probe(Vertx vertx, ClusterManager m, String address, long startedMillis, CompletableFuture<long[]> done) {
    long asked = System.currentTimeMillis();
    Promise<List<RegistrationInfo>> read = Promise.promise();
    m.getRegistrations(address, read);
    read.future().onComplete(ar -> {
      long now = System.currentTimeMillis();
      if ((ar.succeeded() && !ar.result().isEmpty()) || now - startedMillis > 120_000) {
        done.complete(new long[] {now - startedMillis, now - asked});
      } else {
        vertx.setTimer(FAN_RETRY_MS, t -> probe(vertx, m, address, startedMillis, done));
      }
    });
  }

  /** Transport counters of the connections refused or failed, summed over this JVM's members. */
  String transportCounters() {
    String[] names = {"connections_over_limit", "handshakes_refused", "handshakes_timed_out", "handshakes_failed", "handshakes_accepted", "connects"};
    long[] sums = new long[names.length];
    for (ClusterManager m : managers) {
      BopNodeStatus status = ((BopClusterManager) m).node().status();
      for (int i = 0; i < names.length; i++) {
        sums[i] += status.counter(names[i]);
      }
    }
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < names.length; i++) {
      b.append(i == 0 ? "" : ", ").append(names[i]).append(' ').append(sums[i]);
    }
    return b.toString();
  }

  /** How long a member waits before it asks again for an address nobody answered yet. */
  private static final long FAN_RETRY_MS = Long.getLong("bench.fanRetryMs", 1);

  /** Per fan-out address owned in this JVM: each requesting member's id, and when its first request reached the owner (ms). */
  private static final Map<String, Map<String, Long>> ARRIVALS = new ConcurrentHashMap<>();

  /**
   * Registers the fan-out consumer for {@code address} on {@code owner}: it answers "ok" and notes
   * when the first request of each member in each fan-out (the request's body names both) reached it.
   */
  static MessageConsumer<String> consumeFan(Vertx owner, String address) {
    Map<String, Long> arrivals = ARRIVALS.computeIfAbsent(address, a -> new ConcurrentHashMap<>());
    return owner.eventBus().<String>consumer(address, m -> {
      arrivals.putIfAbsent(m.body(), System.currentTimeMillis());
      m.reply("ok");
    });
  }

  /**
   * For a fan-out owned in this JVM, started at {@code startedMillis}: "last count", the ms until
   * the first request of the last member reached the owner, and how many members' requests did.
   */
  static String reached(String address, long startedMillis) {
    // A request's body names its member and its fan-out's start: an address can be fanned out to again.
    String suffix = "@" + startedMillis;
    long[] last = ARRIVALS.getOrDefault(address, Collections.emptyMap()).entrySet().stream()
      .filter(e -> e.getKey().endsWith(suffix)).mapToLong(Map.Entry::getValue).toArray();
    return (Arrays.stream(last).max().orElse(startedMillis - 1) - startedMillis) + " " + last.length;
  }

  private static void attempt(Vertx vertx, String member, String address, long startedMillis, Promise<Long> done) {
    vertx.eventBus().request(address, member, new DeliveryOptions().setSendTimeout(5_000)).onComplete(ar -> {
      if (ar.succeeded()) {
        done.complete(System.currentTimeMillis() - startedMillis);
      } else {
        vertx.setTimer(FAN_RETRY_MS, t -> attempt(vertx, member, address, startedMillis, done));
      }
    });
  }

  /** Put then get latency, one request in flight, from {@code vertx}: "p50 / p99 | p50 / p99" in ms. */
  static String latency(Vertx vertx, int ops) throws Exception {
    AsyncMap<String, String> map = get(vertx.sharedData().<String, String>getAsyncMap("scale"), 30_000);
    String value = "v".repeat(100);
    for (int i = 0; i < 200; i++) {
      get(map.put("warm" + i, value), 30_000);
      get(map.get("warm" + i), 30_000);
    }
    long[] puts = new long[ops];
    long[] gets = new long[ops];
    for (int i = 0; i < ops; i++) {
      long t = System.nanoTime();
      get(map.put("k" + i, value), 30_000);
      puts[i] = System.nanoTime() - t;
    }
    for (int i = 0; i < ops; i++) {
      long t = System.nanoTime();
      get(map.get("k" + i), 30_000);
      gets[i] = System.nanoTime() - t;
    }
    return pct(puts) + " | " + pct(gets);
  }

  /**
   * {@code chains} chains on {@code vertx} for {@code ms}: each registers a consumer of its own
   * address, unregisters it once registered, and starts again; then the same with map puts.
   * "registrations / puts" in cycles per second.
   */
  static String churn(Vertx vertx, int chains, long ms) throws Exception {
    AsyncMap<String, String> map = get(vertx.sharedData().<String, String>getAsyncMap("scale"), 30_000);
    double consumers = chains(chains, ms, i -> {
      MessageConsumer<String> c = vertx.eventBus().consumer("churn." + i, m -> { });
      return c.completion().compose(v -> c.unregister());
    });
    double puts = chains(chains, ms, i -> map.put("churn." + i, "v").mapEmpty());
    return String.format("%.0f / %.0f", consumers, puts);
  }

  private static double chains(int chains, long ms, IntFunction<Future<Void>> step) throws Exception {
    AtomicLong done = new AtomicLong();
    long end = System.currentTimeMillis() + ms;
    List<Future<Void>> all = new ArrayList<>();
    for (int i = 0; i < chains; i++) {
      Promise<Void> p = Promise.promise();
      chain(i, end, done, step, p);
      all.add(p.future());
    }
    long t0 = System.nanoTime();
    for (Future<Void> f : all) {
      get(f, ms + 30_000);
    }
    return done.get() / ((System.nanoTime() - t0) / 1e9);
  }

  private static void chain(int i, long end, AtomicLong done, IntFunction<Future<Void>> step, Promise<Void> p) {
    if (System.currentTimeMillis() >= end) {
      p.complete();
      return;
    }
    step.apply(i).onComplete(ar -> {
      if (ar.failed()) {
        p.fail(ar.cause());
        return;
      }
      done.incrementAndGet();
      chain(i, end, done, step, p);
    });
  }

  private static String pct(long[] nanos) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    return String.format("%.2f / %.2f", sorted[sorted.length / 2] / 1e6, sorted[(int) (sorted.length * 0.99)] / 1e6);
  }

  /** True when one of this JVM's nodes leads the cluster. */
  boolean leads() {
    for (ClusterManager m : managers) {
      if (((BopClusterManager) m).node().status().isLeader()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Puts from {@code writer} until a put is accepted (each attempt waits up to 30 s; a failed one is
   * retried at once); the wall-clock milliseconds from {@code sinceMillis} until then, or -1 when
   * none is within {@link #RESUME_LIMIT_MS} (the cluster lost its quorum).
   */
  static long putUntilAccepted(Vertx writer, long sinceMillis) throws Exception {
    AsyncMap<String, String> map = get(writer.sharedData().<String, String>getAsyncMap("scale"), 30_000);
    for (int i = 0; ; i++) {
      try {
        get(map.put("after-kill-" + i, "v"), RESUME_LIMIT_MS);
        return System.currentTimeMillis() - sinceMillis;
      } catch (Exception failedWhileElecting) {
        if (System.currentTimeMillis() - sinceMillis > RESUME_LIMIT_MS) {
          return -1;
        }
      }
    }
  }

  void close() throws Exception {
    List<Future<Void>> closed = new ArrayList<>();
    for (Vertx vertx : nodes) {
      closed.add(vertx.close());
    }
    for (Future<Void> f : closed) {
      try {
        get(f, 60_000);
      } catch (Exception ignored) {
        // A node the benchmark stopped abruptly fails to leave: nothing to do.
      }
    }
  }

  static long rss() throws Exception {
    for (String l : Files.readAllLines(Paths.get("/proc/self/status"))) {
      if (l.startsWith("VmRSS:")) {
        return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return -1;
  }

  static <T> T get(Future<T> f, long ms) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(ms, TimeUnit.MILLISECONDS);
  }

  public static void main(String[] args) throws Exception {
    PrintStream proto = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    System.setOut(System.err);
    // Vert.x and Netty loaded before the clock starts: the parent times formation both from the
    // launch of the JVMs and from GO.
    ScaleNodes.get(Vertx.vertx().close(), 60_000);
    proto.println("@@ LOADED");
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String go = in.readLine();
    if (!"GO".equals(go)) {
      throw new IllegalStateException("expected GO, got " + go);
    }
    long goMillis = System.currentTimeMillis();
    ScaleNodes s = launch(args[0], Integer.parseInt(args[1]));
    int clusterSize = Integer.parseInt(args[2]);
    // Timed here, where it happens: the parent's polling of 20 busy JVMs would add its own delay.
    CompletableFuture<long[]> formed = CompletableFuture.supplyAsync(() -> {
      try {
        return s.formed(clusterSize);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    proto.println("@@ LAUNCHED");
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      String[] c = line.trim().split(" ");
      try {
        switch (c[0]) {
          case "FORMED":
            long[] f = formed.get(300, TimeUnit.SECONDS);
            System.err.println("[scale] formed; " + s.transportCounters());
            if (JOIN_TIMES) {
              System.err.println("[scale] GO at " + goMillis + "; formed " + (f[0] - goMillis) + " / " + (f[1] - goMillis)
                + " ms after it; init / join asked / joined / node info asked / set / started (ms after GO): " + s.joinTimeline(goMillis));
            }
            proto.println("@@ " + f[0] + " " + f[1]);
            break;
          case "FAN":
            proto.println("@@ " + String.join(",", s.fan(c[1], Long.parseLong(c[2])).stream().map(String::valueOf).toArray(String[]::new)));
            break;
          case "RSS":
            proto.println("@@ " + rss());
            break;
          case "CONSUME":
            long asked = System.currentTimeMillis();
            consumeFan(s.nodes.get(0), c[1]).completion().onComplete(ar ->
              System.err.println("[scale] consumer of " + c[1] + " registered (" + ar.succeeded() + ") after "
                + (System.currentTimeMillis() - asked) + " ms"));
            proto.println("@@ OK");
            break;
          case "REACHED":
            proto.println("@@ " + reached(c[1], Long.parseLong(c[2])));
            break;
          case "LATENCY":
            proto.println("@@ " + latency(s.nodes.get(s.nodes.size() - 1), Integer.parseInt(c[1])));
            break;
          case "LEADS":
            proto.println("@@ " + s.leads());
            break;
          case "RESUME":
            proto.println("@@ " + putUntilAccepted(s.nodes.get(s.nodes.size() - 1), Long.parseLong(c[1])));
            break;
          case "EXIT":
            s.close();
            proto.println("@@ BYE");
            System.exit(0);
            break;
          default:
            proto.println("@@ ERR unknown " + line);
        }
      } catch (Throwable t) {
        t.printStackTrace();
        proto.println("@@ ERR " + t.toString().replace('\n', ' '));
      }
    }
    System.exit(0);
  }
}
