package io.vertx.bop.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopClusterOptions;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Several clustered Vert.x nodes in one JVM, for {@link Scale}: in the benchmark's own JVM, or in a
 * child JVM driven over stdin/stdout ({@code main}: arguments {@code clusterName count}; answers
 * {@code @@ LOADED} once Vert.x is loaded, starts its nodes on {@code GO} and answers
 * {@code @@ READY}, then one {@code @@} line per command: {@code MEMBERS} (the fewest members any
 * of its nodes sees), {@code FAN address} (every node requests {@code address} until answered;
 * the answer is the milliseconds until the last one was), {@code RSS} (this JVM's resident set in
 * bytes), {@code EXIT}).
 */
public final class ScaleNodes {

  final List<Vertx> nodes = new ArrayList<>();
  final List<ClusterManager> managers = new ArrayList<>();

  /** Starts {@code count} nodes of {@code clusterName} together and waits until every one is up. */
  static ScaleNodes start(String clusterName, int count) throws Exception {
    ScaleNodes s = new ScaleNodes();
    List<Future<Vertx>> started = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      BopClusterManager manager = new BopClusterManager(new BopClusterOptions().setClusterName(clusterName));
      s.managers.add(manager);
      started.add(Vertx.builder().withClusterManager(manager).buildClustered());
    }
    for (Future<Vertx> f : started) {
      s.nodes.add(get(f, 300_000));
    }
    return s;
  }

  /** The fewest members any node of this JVM sees. */
  int fewestMembers() {
    int fewest = Integer.MAX_VALUE;
    for (ClusterManager m : managers) {
      fewest = Math.min(fewest, m.getNodes().size());
    }
    return fewest;
  }

  /** Every node requests {@code address} until it is answered; the milliseconds until the last answer. */
  long fan(String address, long startedMillis) throws Exception {
    List<Future<Long>> answered = new ArrayList<>();
    for (Vertx vertx : nodes) {
      Promise<Long> p = Promise.promise();
      attempt(vertx, address, startedMillis, p);
      answered.add(p.future());
    }
    long last = 0;
    for (Future<Long> f : answered) {
      last = Math.max(last, get(f, 120_000));
    }
    return last;
  }

  private static void attempt(Vertx vertx, String address, long startedMillis, Promise<Long> done) {
    vertx.eventBus().request(address, "fan", new DeliveryOptions().setSendTimeout(5_000)).onComplete(ar -> {
      if (ar.succeeded()) {
        done.complete(System.currentTimeMillis() - startedMillis);
      } else {
        vertx.setTimer(1, t -> attempt(vertx, address, startedMillis, done));
      }
    });
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
    ScaleNodes s = start(args[0], Integer.parseInt(args[1]));
    proto.println("@@ READY");
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      String[] c = line.trim().split(" ");
      try {
        switch (c[0]) {
          case "MEMBERS":
            proto.println("@@ " + s.fewestMembers());
            break;
          case "FAN":
            proto.println("@@ " + s.fan(c[1], Long.parseLong(c[2])));
            break;
          case "RSS":
            proto.println("@@ " + rss());
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
