package io.vertx.spi.cluster.bop.demo;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.core.shareddata.Counter;
import io.vertx.core.shareddata.Lock;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopLock;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A three-node clustered Vert.x application on the embedded default: no configuration, nodes on
 * this host find each other. It shows request-reply across nodes, a shared map, a lock with its
 * fencing tokens and a counter, then stops one node and shows the other two carry on. It exits by
 * itself, with status 1 if anything did not behave.
 *
 * <p>The same application runs on both Vert.x lines: each line's main ({@code Vertx5Demo},
 * {@code Vertx4Demo}) gives it its {@code BopClusterManager}, how that line starts a clustered
 * Vert.x and how it waits for a consumer's registration; everything else is API both lines share.
 */
public final class ClusterDemo {

  /** What differs between the Vert.x lines the demo uses. */
  public interface Line {
    /** Starts a clustered Vert.x on {@code manager}. */
    Future<Vertx> start(ClusterManager manager);

    /** Completes when {@code consumer}'s registration has reached the cluster. */
    Future<Void> registered(MessageConsumer<?> consumer);
  }

  private final Supplier<ClusterManager> managers;
  private final Line line;

  private ClusterDemo(Supplier<ClusterManager> managers, Line line) {
    this.managers = managers;
    this.line = line;
  }

  private static <T> T await(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new IllegalStateException("demo failed: " + what);
    }
  }

  private static void say(String line) {
    System.out.println(line);
  }

  /** The version of the Vert.x on the class path. */
  private static String vertxVersion() {
    try (java.io.InputStream in = Vertx.class.getClassLoader().getResourceAsStream("META-INF/vertx/vertx-version.txt")) {
      return in == null ? "(unknown version)" : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
    } catch (java.io.IOException e) {
      return "(unknown version)";
    }
  }

  /** Runs the demo with this Vert.x line's cluster managers and way to start a clustered Vert.x, and exits. */
  public static void main(Supplier<ClusterManager> managers, Line line) {
    say("BopClusterManager demo on Vert.x " + vertxVersion());
    List<Vertx> nodes = new ArrayList<>();
    try {
      new ClusterDemo(managers, line).run(nodes);
      say("\nDone: the cluster kept working after losing a node.");
    } catch (Exception e) {
      System.err.println(e.getMessage());
      e.printStackTrace();
      System.exit(1);
    } finally {
      for (Vertx v : nodes) {
        try {
          await(v.close());
        } catch (Exception ignored) {
          // Closing at exit.
        }
      }
    }
    System.exit(0);
  }

  private void run(List<Vertx> nodes) throws Exception {
    long started = System.nanoTime();
    ClusterManager cmA = null;
    for (int i = 0; i < 3; i++) {
      ClusterManager manager = managers.get();
      cmA = cmA == null ? manager : cmA;
      nodes.add(await(line.start(manager)));
    }
    Vertx a = nodes.get(0);
    Vertx b = nodes.get(1);
    Vertx c = nodes.get(2);
    say(String.format("Started 3 clustered Vert.x nodes in %d ms; members in join order: %s",
      TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), cmA.getNodes()));
    check(cmA.getNodes().size() == 3, "three members");

    // Request-reply across nodes.
    await(line.registered(c.eventBus().<String>consumer("greetings", m -> m.reply("hello " + m.body() + ", from node C"))));
    await(line.registered(b.eventBus().<String>consumer("greetings.b", m -> m.reply("hello " + m.body() + ", from node B"))));
    String reply = await(a.eventBus().<String>request("greetings", "node A")).body();
    say("Request-reply  A -> C: " + reply);
    check(reply.endsWith("from node C"), "the reply comes from C");

    // A shared map.
    AsyncMap<String, String> mapA = await(a.sharedData().<String, String>getAsyncMap("settings"));
    AsyncMap<String, String> mapB = await(b.sharedData().<String, String>getAsyncMap("settings"));
    await(mapA.put("mode", "production"));
    String mode = await(mapB.get("mode"));
    say("Shared map     put on A, get on B: mode=" + mode);
    check("production".equals(mode), "B reads what A wrote");

    // A lock: A holds it, B waits, A releases, B gets it with a larger fencing token.
    Lock lockA = await(a.sharedData().getLockWithTimeout("demo-lock", 5000));
    long tokenA = ((BopLock) lockA).fencingToken();
    say("Lock           A holds demo-lock (fencing token " + tokenA + "); B asks for it and waits");
    Future<Lock> waiting = b.sharedData().getLockWithTimeout("demo-lock", 10_000);
    Thread.sleep(300);
    check(!waiting.isComplete(), "B waits while A holds the lock");
    lockA.release();
    Lock lockB = await(waiting);
    long tokenB = ((BopLock) lockB).fencingToken();
    say("Lock           A released; B got it (fencing token " + tokenB + ")");
    check(tokenB > tokenA, "fencing tokens grow");
    lockB.release();

    // A counter incremented from every node.
    for (Vertx v : nodes) {
      Counter counter = await(v.sharedData().getCounter("visits"));
      await(counter.incrementAndGet());
    }
    long visits = await(await(b.sharedData().getCounter("visits")).get());
    say("Counter        one increment from each node: visits=" + visits);
    check(visits == 3, "three increments");

    // Stop node C; A and B carry on.
    say("Stopping node C ...");
    await(c.close());
    nodes.remove(c);
    say("Members now: " + cmA.getNodes());
    check(cmA.getNodes().size() == 2, "two members left");
    try {
      await(a.eventBus().request("greetings", "node A"));
      check(false, "C's consumer should be gone");
    } catch (java.util.concurrent.ExecutionException e) {
      say("Request to C's address now fails as expected: " + e.getCause().getMessage());
    }
    reply = await(a.eventBus().<String>request("greetings.b", "node A")).body();
    say("Request-reply  A -> B: " + reply);
    Counter counter = await(a.sharedData().getCounter("visits"));
    long after = await(counter.incrementAndGet());
    say("Counter        after C left, A increments: visits=" + after);
    check(after == 4, "the counter kept its value");
    say("Shared map     still there on A: mode=" + await(mapA.get("mode")));
  }
}
