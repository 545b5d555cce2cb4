package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;
import io.vertx.spi.cluster.bop.impl.wire.BopResponses;

import java.util.Arrays;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The cost the JNI layer adds per operation. On a one-node cluster, the same request (a counter
 * add, a write that goes through raft) runs from Java (encode the frame, cross into native code,
 * the node's event loop, the answer back across the boundary on the callback thread, decode,
 * complete a future) and from Rust inside the same node (no JNI crossing), two ways:
 * <ul>
 *   <li>64 requests in flight: the time per operation is CPU work, thread wake-ups are shared
 *   by whole bursts, and the difference between Java and Rust is what the layer costs;</li>
 *   <li>one request in flight: the latency a lone caller sees, dominated by how fast parked
 *   threads wake on this machine (the Rust caller parks on a channel, the Java one on a
 *   future), so the difference there is reported but is not the layer's cost.</li>
 * </ul>
 * Prints figures; asserts nothing. The Rust side's timing is the native hook of
 * {@link NativeTiming}, in the library only when built with the cargo feature {@code bench-hooks}
 * ({@code scripts/bench-jni.sh} builds it so).
 */
public final class JniOverheadBench {

  private static final int IN_FLIGHT = 64;

  private JniOverheadBench() {
  }

  public static void main(String[] args) throws Exception {
    boolean quick = args.length > 0 && args[0].equals("--quick");
    int iterations = quick ? 5_000 : 50_000;
    int pipelined = quick ? 50_000 : 400_000;
    BopClusterOptions options = new BopClusterOptions().setClusterName("jni-bench-" + UUID.randomUUID());
    Vertx vertx = Vertx.builder().withClusterManager(new BopClusterManager(options)).buildClustered()
      .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    try {
      BopClusterManager cm = (BopClusterManager) ((VertxInternal) vertx).clusterManager();
      BopNode node = cm.node();
      byte[] frame = BopMessages.counterAddAndGet(1, "bench", 1);

      double[] javaPerOp = new double[3];
      double[] rustPerOp = new double[3];
      javaPipelined(node, pipelined / 5);
      NativeTiming.timeNativeCalls(node.handle(), frame, pipelined / 5, IN_FLIGHT);
      for (int round = 0; round < 3; round++) {
        javaPerOp[round] = javaPipelined(node, pipelined) / 1000.0 / pipelined;
        rustPerOp[round] = NativeTiming.timeNativeCalls(node.handle(), frame, pipelined, IN_FLIGHT) / 1000.0 / pipelined;
      }
      Arrays.sort(javaPerOp);
      Arrays.sort(rustPerOp);
      double added = javaPerOp[1] - rustPerOp[1];
      System.out.printf("JNI layer, 1-node cluster, counter add (a raft write)%n");
      System.out.printf("%d in flight, %d requests, median of 3 rounds (time per operation):%n", IN_FLIGHT, pipelined);
      System.out.printf("  from Java (frame codec + JNI + callback thread + future): %.2f us (%.0f ops/s)%n", javaPerOp[1], 1e6 / javaPerOp[1]);
      System.out.printf("  from Rust in the same node (Node::request):               %.2f us (%.0f ops/s)%n", rustPerOp[1], 1e6 / rustPerOp[1]);
      System.out.printf("  added by the Java/JNI layer: %.2f us per operation (goal < 2 us: %s)%n", added, added < 2.0 ? "met" : "NOT MET");

      long[] javaNanos = new long[iterations];
      for (int round = 0; round < 2; round++) {
        for (int i = 0; i < iterations; i++) {
          int id = node.nextRequestId();
          long t0 = System.nanoTime();
          node.call(id, BopMessages.counterAddAndGet(id, "bench", 1), BopResponses::i64).get(10, TimeUnit.SECONDS);
          javaNanos[i] = System.nanoTime() - t0;
        }
      }
      NativeTiming.timeNativeCalls(node.handle(), frame, iterations / 5, 1);
      double rustMeanUs = NativeTiming.timeNativeCalls(node.handle(), frame, iterations, 1) / 1000.0 / iterations;
      double javaMeanUs = Arrays.stream(javaNanos).average().orElse(0) / 1000.0;
      long[] sorted = javaNanos.clone();
      Arrays.sort(sorted);
      System.out.printf("one request in flight, %d calls (latency; wake-ups of parked threads dominate):%n", iterations);
      System.out.printf("  from Java: mean %.1f us, p50 %.1f us, p99 %.1f us%n", javaMeanUs,
        sorted[iterations / 2] / 1000.0, sorted[iterations * 99 / 100] / 1000.0);
      System.out.printf("  from Rust (Node::call): mean %.1f us%n", rustMeanUs);
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    System.exit(0);
  }

  /** Runs {@code n} counter adds from Java with {@link #IN_FLIGHT} outstanding; total nanoseconds. */
  private static long javaPipelined(BopNode node, int n) throws InterruptedException {
    Semaphore window = new Semaphore(IN_FLIGHT);
    AtomicLong failures = new AtomicLong();
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      window.acquire();
      int id = node.nextRequestId();
      node.call(id, BopMessages.counterAddAndGet(id, "bench", 1), BopResponses::i64)
        .whenComplete((value, failure) -> {
          if (failure != null) {
            failures.incrementAndGet();
          }
          window.release();
        });
    }
    window.acquire(IN_FLIGHT);
    long took = System.nanoTime() - t0;
    if (failures.get() > 0) {
      throw new IllegalStateException(failures.get() + " of " + n + " requests failed");
    }
    return took;
  }
}
