package io.vertx.bop.bench;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.core.shareddata.Counter;
import io.vertx.core.shareddata.SharedData;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;

/**
 * One cluster node of the benchmark, run in its own JVM by {@link Compare}.
 *
 * <p>Arguments: {@code bop|hz clusterName index nodeCount fastTimeout(true|false)}. The node builds a
 * clustered Vert.x with the chosen manager, waits until it sees {@code nodeCount} members, registers
 * the consumer {@code echo.<index>}, prints {@code @@ READY ...} and then executes one command per
 * stdin line, answering each with one {@code @@ ...} line on stdout (library output goes to stderr).
 */
public final class NodeMain {

  private static PrintStream proto;
  private static Vertx vertx;
  private static ClusterManager cm;
  private static int index;

  public static void main(String[] args) throws Exception {
    long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
    proto = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    System.setOut(System.err);
    String product = args[0];
    String clusterName = args[1];
    index = Integer.parseInt(args[2]);
    int nodeCount = Integer.parseInt(args[3]);
    boolean fastTimeout = Boolean.parseBoolean(args[4]);

    long buildStart = System.currentTimeMillis();
    if (product.equals("bop")) {
      // default options apart from a unique cluster name; -Dvertx.bop.timeout=2000 comes from Compare
      cm = new BopClusterManager(new BopClusterOptions().setClusterName(clusterName));
    } else {
      // Hazelcast's defaults, apart from loopback membership (and the 2 s timeout row)
      Config config = new Config();
      config.setClusterName(clusterName);
      JoinConfig join = config.getNetworkConfig().getJoin();
      join.getMulticastConfig().setEnabled(false);
      join.getTcpIpConfig().setEnabled(true).addMember("127.0.0.1");
      if (fastTimeout) {
        config.setProperty("hazelcast.max.no.heartbeat.seconds", "2");
        config.setProperty("hazelcast.heartbeat.interval.seconds", "1");
      }
      cm = new HazelcastClusterManager(config);
    }
    vertx = get(Vertx.builder().withClusterManager(cm).buildClustered(), 120_000);
    long built = System.currentTimeMillis();
    while (cm.getNodes().size() < nodeCount) {
      Thread.sleep(1);
    }
    long formed = System.currentTimeMillis();
    get(vertx.eventBus().<Object>consumer("echo." + index, m -> m.reply(m.body())).completion(), 30_000);
    reply("READY " + jvmStart + " " + buildStart + " " + built + " " + formed + " " + cm.getNodeId());

    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      String[] c = line.trim().split(" ");
      try {
        if (c[0].equals("EXIT")) {
          try {
            get(vertx.close(), 20_000);
          } finally {
            reply("BYE");
            System.exit(0);
          }
        }
        reply(execute(c));
      } catch (Throwable t) {
        t.printStackTrace();
        reply("ERR " + t.toString().replace('\n', ' '));
      }
    }
    System.exit(0);
  }

  private static void reply(String s) {
    proto.println("@@ " + s);
    proto.flush();
  }

  private static String execute(String[] c) throws Exception {
    SharedData sd = vertx.sharedData();
    switch (c[0]) {
      case "MAPLAT": {
        // one request in flight: n puts, then n gets of the same keys; latencies in microseconds
        int n = Integer.parseInt(c[1]);
        int warm = Integer.parseInt(c[2]);
        AsyncMap<String, String> map = get(sd.getAsyncMap("bench.lat"), 30_000);
        String value = "v".repeat(100);
        String p = "lat-" + index + "-";
        run(1, warm, Long.MAX_VALUE, null, i -> map.put(p + i, value));
        run(1, warm, Long.MAX_VALUE, null, i -> map.get(p + i));
        long[] put = new long[n];
        long[] getL = new long[n];
        run(1, n, Long.MAX_VALUE, put, i -> map.put(p + i, value));
        run(1, n, Long.MAX_VALUE, getL, i -> map.get(p + i));
        return "LAT " + join(put) + " " + join(getL);
      }
      case "MAPPUT": {
        long ms = Long.parseLong(c[1]);
        int inflight = Integer.parseInt(c[2]);
        AsyncMap<String, String> map = get(sd.getAsyncMap("bench.tput"), 30_000);
        String value = "v".repeat(100);
        String p = "t-" + index + "-";
        return result(run(inflight, Long.MAX_VALUE, ms, null, i -> map.put(p + (i % 1000), value)));
      }
      case "MAPGET": {
        long ms = Long.parseLong(c[1]);
        int inflight = Integer.parseInt(c[2]);
        AsyncMap<String, String> map = get(sd.getAsyncMap("bench.tput"), 30_000);
        String p = "t-" + index + "-";
        return result(run(inflight, Long.MAX_VALUE, ms, null, i -> map.get(p + (i % 1000))));
      }
      case "COUNTER": {
        long ms = Long.parseLong(c[1]);
        int inflight = Integer.parseInt(c[2]);
        Counter counter = get(sd.getCounter("bench.counter"), 30_000);
        return result(run(inflight, Long.MAX_VALUE, ms, null, i -> counter.incrementAndGet()));
      }
      case "LOCK": {
        // contended: every chain of every node cycles on one lock; uncontended: each chain on its own locks
        long ms = Long.parseLong(c[1]);
        int chains = Integer.parseInt(c[2]);
        boolean contended = c[3].equals("contended");
        String p = "bench.lock." + index + ".";
        return result(run(chains, Long.MAX_VALUE, ms, null, i -> {
          String name = contended ? "bench.lock.contended" : p + (i % 1024);
          return sd.getLockWithTimeout(name, 30_000).map(lock -> {
            lock.release();
            return null;
          });
        }));
      }
      case "EBRR": {
        long ms = Long.parseLong(c[1]);
        int inflight = Integer.parseInt(c[2]);
        String target = "echo." + c[3];
        EventBus eb = vertx.eventBus();
        return result(run(inflight, Long.MAX_VALUE, ms, null, i -> eb.request(target, "ping")));
      }
      case "CHURN": {
        long ms = Long.parseLong(c[1]);
        int chains = Integer.parseInt(c[2]);
        EventBus eb = vertx.eventBus();
        String p = "churn." + index + ".";
        return result(run(chains, Long.MAX_VALUE, ms, null, i -> {
          MessageConsumer<Object> consumer = eb.consumer(p + i, m -> { });
          return consumer.completion().compose(v -> consumer.unregister());
        }));
      }
      case "FILL": {
        int from = Integer.parseInt(c[1]);
        int to = Integer.parseInt(c[2]);
        AsyncMap<String, byte[]> map = get(sd.getAsyncMap("bench.mem"), 30_000);
        byte[] kib = new byte[1024];
        for (int i = 0; i < kib.length; i++) kib[i] = (byte) i;
        long[] r = run(64, to - from, Long.MAX_VALUE, null, i -> map.put("mem-" + (from + i), kib));
        return result(r);
      }
      case "MEM": {
        for (int i = 0; i < 3; i++) {
          System.gc();
          Thread.sleep(100);
        }
        Runtime rt = Runtime.getRuntime();
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        long rss = -1;
        for (String l : Files.readAllLines(Paths.get("/proc/self/status"))) {
          if (l.startsWith("VmRSS:")) rss = Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        }
        return "MEM " + heap + " " + rss + " " + rt.totalMemory();
      }
      case "WATCH": {
        // wait until node c[1] is no longer listed; answers the wall-clock ms when it went
        String id = c[1];
        long max = Long.parseLong(c[2]);
        long deadline = System.currentTimeMillis() + max;
        reply("WATCHING");
        while (System.currentTimeMillis() < deadline) {
          if (!cm.getNodes().contains(id)) return "GONE " + System.currentTimeMillis();
          Thread.sleep(2);
        }
        return "GONE -1";
      }
      case "SIZE": {
        AsyncMap<Object, Object> map = get(sd.getAsyncMap(c[1]), 30_000);
        return "SIZE " + get(map.size(), 60_000);
      }
      case "PING":
        return "PONG " + cm.getNodes().size();
      default:
        return "ERR unknown command " + c[0];
    }
  }

  private static String result(long[] r) {
    return "OK " + r[0] + " " + r[1] + " " + r[2];
  }

  private static String join(long[] a) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < a.length; i++) {
      if (i > 0) sb.append(',');
      sb.append(a[i]);
    }
    return sb.toString();
  }

  /**
   * Runs {@code chains} concurrent chains of asynchronous operations on one Vert.x context, each
   * issuing its next operation when the previous completes, until {@code count} operations were
   * issued or {@code ms} elapsed. Records per-operation latency (us) into {@code lat} if not null
   * (only meaningful with one chain). Returns {ok, errors, elapsedNanos}.
   */
  private static long[] run(int chains, long count, long ms, long[] lat, LongFunction<Future<?>> op)
      throws Exception {
    if (ms != Long.MAX_VALUE) {
      // timed rows: an untimed warm-up of a fifth of the time first (JIT, connections)
      run0(chains, Long.MAX_VALUE, Math.max(200, ms / 5), null, op);
    }
    return run0(chains, count, ms, lat, op);
  }

  private static long[] run0(int chains, long count, long ms, long[] lat, LongFunction<Future<?>> op)
      throws Exception {
    AtomicLong seq = new AtomicLong();
    AtomicLong ok = new AtomicLong();
    AtomicLong err = new AtomicLong();
    AtomicLong firstError = new AtomicLong();
    long start = System.nanoTime();
    long deadline = ms == Long.MAX_VALUE ? Long.MAX_VALUE : start + ms * 1_000_000L;
    CountDownLatch done = new CountDownLatch(chains);
    io.vertx.core.Context ctx = vertx.getOrCreateContext();
    for (int c = 0; c < chains; c++) {
      ctx.runOnContext(v -> new Chain(seq, ok, err, count, deadline, lat, op, done).step());
    }
    long waitMs = ms == Long.MAX_VALUE ? 600_000 : ms + 60_000;
    if (!done.await(waitMs, TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException("workload did not finish: ok=" + ok + " err=" + err);
    }
    return new long[] {ok.get(), err.get(), System.nanoTime() - start};
  }

  private static final class Chain {
    final AtomicLong seq, ok, err;
    final long count, deadline;
    final long[] lat;
    final LongFunction<Future<?>> op;
    final CountDownLatch done;

    Chain(AtomicLong seq, AtomicLong ok, AtomicLong err, long count, long deadline, long[] lat,
          LongFunction<Future<?>> op, CountDownLatch done) {
      this.seq = seq; this.ok = ok; this.err = err; this.count = count; this.deadline = deadline;
      this.lat = lat; this.op = op; this.done = done;
    }

    void step() {
      while (true) {
        if (System.nanoTime() >= deadline) {
          done.countDown();
          return;
        }
        long i = seq.getAndIncrement();
        if (i >= count) {
          done.countDown();
          return;
        }
        long t0 = System.nanoTime();
        Future<?> f;
        try {
          f = op.apply(i);
        } catch (Throwable t) {
          err.incrementAndGet();
          continue;
        }
        if (f.isComplete()) {
          record(i, t0, f.succeeded(), f.cause());
          continue;
        }
        f.onComplete(ar -> {
          record(i, t0, ar.succeeded(), ar.cause());
          step();
        });
        return;
      }
    }

    void record(long i, long t0, boolean success, Throwable cause) {
      if (lat != null && i < lat.length) lat[(int) i] = (System.nanoTime() - t0) / 1000;
      if (success) {
        ok.incrementAndGet();
      } else if (err.incrementAndGet() <= 3) {
        System.err.println("operation failed: " + cause);
      }
    }
  }

  private static <T> T get(Future<T> f, long ms) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(ms, TimeUnit.MILLISECONDS);
  }
}
