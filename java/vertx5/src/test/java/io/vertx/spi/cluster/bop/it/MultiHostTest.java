package io.vertx.spi.cluster.bop.it;

import org.junit.After;
import org.junit.AfterClass;
import org.junit.Assume;
import org.junit.BeforeClass;
import org.junit.Test;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/**
 * Nodes on different hosts, as far as the network can tell: each node runs in a JVM of its own
 * inside a Linux network namespace with one veth pair to a bridge, so each has its own address
 * (10.231.x.11, .12, .13) and only loopback besides. Every node binds the wildcard address and
 * advertises the one routable address it finds. The nodes find each other through seeds, then
 * through a DNS name (each namespace's {@code /etc/hosts}, which {@code ip netns exec} mounts from
 * {@code /etc/netns/<name>/hosts}), then one namespace is cut off and let back in. The event bus
 * must work across them: it advertises the host the manager advertises. Needs root and
 * {@code ip}; skipped with the reason where the namespaces cannot be created.
 */
public class MultiHostTest {

  private static final int NODES = 3;
  private static final int PORT = 5701;
  private static final String DNS_NAME = "bop-members.test";
  private static final String SECRET = "multi-host-test-secret-0123456789";
  private static final int NET = 16 + new Random().nextInt(200);
  private static final String PREFIX = "bop" + NET;
  private static final String BRIDGE = PREFIX + "br";
  private static boolean created;

  private final List<Node> nodes = new ArrayList<>();

  @BeforeClass
  public static void createNamespaces() throws Exception {
    String why = cannotCreateNamespaces();
    Assume.assumeTrue("MultiHostTest skipped: " + why, why == null);
    created = true;
    sh("ip", "link", "add", BRIDGE, "type", "bridge");
    sh("ip", "link", "set", BRIDGE, "up");
    StringBuilder hosts = new StringBuilder("127.0.0.1 localhost " + hostname() + "\n");
    for (int i = 1; i <= NODES; i++) {
      hosts.append(ip(i)).append(' ').append(DNS_NAME).append('\n');
    }
    for (int i = 1; i <= NODES; i++) {
      String ns = namespace(i);
      sh("ip", "netns", "add", ns);
      sh("ip", "link", "add", hostSide(i), "type", "veth", "peer", "name", PREFIX + "n" + i);
      sh("ip", "link", "set", PREFIX + "n" + i, "netns", ns);
      sh("ip", "link", "set", hostSide(i), "master", BRIDGE);
      sh("ip", "link", "set", hostSide(i), "up");
      sh("ip", "netns", "exec", ns, "ip", "addr", "add", ip(i) + "/24", "dev", PREFIX + "n" + i);
      sh("ip", "netns", "exec", ns, "ip", "link", "set", PREFIX + "n" + i, "up");
      sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
      Path etc = Paths.get("/etc/netns", ns);
      Files.createDirectories(etc);
      Files.write(etc.resolve("hosts"), hosts.toString().getBytes(StandardCharsets.UTF_8));
    }
  }

  @AfterClass
  public static void removeNamespaces() throws Exception {
    if (!created) {
      return;
    }
    for (int i = 1; i <= NODES; i++) {
      shQuietly("ip", "netns", "del", namespace(i));
      shQuietly("ip", "link", "del", hostSide(i));
      Path etc = Paths.get("/etc/netns", namespace(i));
      Files.deleteIfExists(etc.resolve("hosts"));
      Files.deleteIfExists(etc);
    }
    shQuietly("ip", "link", "del", BRIDGE);
  }

  @After
  public void stopNodes() {
    for (Node node : nodes) {
      node.process.destroyForcibly();
    }
    for (Node node : nodes) {
      try {
        node.process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    nodes.clear();
  }

  @Test
  public void nodes_on_different_addresses_cluster_through_seeds_and_their_event_buses_reach_each_other() throws Exception {
    List<String> seeds = new ArrayList<>();
    for (int i = 1; i <= NODES; i++) {
      seeds.add(ip(i) + ":" + PORT);
    }
    startAll("seeds", "-Dvertx.bop.seeds=" + String.join(",", seeds));
    checkCluster();
  }

  @Test
  public void nodes_find_each_other_through_a_dns_name_and_a_node_cut_off_comes_back() throws Exception {
    startAll("dns", "-Dvertx.bop.dnsName=" + DNS_NAME, "-Dvertx.bop.dnsPort=" + PORT);
    checkCluster();

    // Cut the third namespace off: the other two carry on as a majority without it.
    sh("ip", "link", "set", hostSide(3), "down");
    Node first = nodes.get(0);
    Node third = nodes.get(2);
    awaitAnswer(first, "members", "MEMBERS 2");
    assertEquals("OK", first.command("put during-split yes"));
    assertTrue("the cut-off node cannot write", third.command("put from-minority no").startsWith("FAILED"));

    // Let it back in: it rejoins by itself and sees what the majority wrote meanwhile.
    sh("ip", "link", "set", hostSide(3), "up");
    awaitAnswer(first, "members", "MEMBERS 3");
    awaitAnswer(third, "members", "MEMBERS 3");
    awaitAnswer(third, "get during-split", "VALUE yes");
    awaitAnswer(first, "ask n3", "ANSWER " + nodes.get(2).nodeId + " " + ip(3));
  }

  /** Every node sees all three, reaches every other's event bus at its own address, and shares the map. */
  private void checkCluster() throws Exception {
    for (Node node : nodes) {
      assertEquals(node.line, ip(node.index) + ":" + PORT, node.advertised);
      awaitAnswer(node, "members", "MEMBERS " + NODES);
    }
    for (Node from : nodes) {
      for (Node to : nodes) {
        awaitAnswer(from, "ask n" + to.index, "ANSWER " + to.nodeId + " " + ip(to.index));
      }
    }
    assertEquals("OK", nodes.get(0).command("put k v1"));
    for (Node node : nodes) {
      assertEquals("VALUE v1", node.command("get k"));
    }
  }

  private void startAll(String test, String... discovery) throws Exception {
    String cluster = Clusters.uniqueName("multi-host-" + test);
    for (int i = 1; i <= NODES; i++) {
      List<String> command = new ArrayList<>(Arrays.asList("ip", "netns", "exec", namespace(i),
        Paths.get(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
        "-Djava.net.preferIPv4Stack=true",
        "-Dvertx.bop.clusterName=" + cluster, "-Dvertx.bop.host=0.0.0.0", "-Dvertx.bop.port=" + PORT,
        "-Dvertx.bop.secret=" + SECRET, "-Dvertx.bop.timeout=2000"));
      command.addAll(Arrays.asList(discovery));
      command.addAll(Arrays.asList("-cp", System.getProperty("java.class.path"), MultiHostNode.class.getName(), "n" + i));
      File log = Files.createTempFile("multi-host-n" + i + "-", ".log").toFile();
      Process process = new ProcessBuilder(command).redirectError(log).start();
      nodes.add(new Node(i, process, log));
    }
    for (Node node : nodes) {
      node.ready();
    }
  }

  /** Repeats {@code command} on {@code node} until it answers {@code expected}, at most 30 s. */
  private static void awaitAnswer(Node node, String command, String expected) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Clusters.TIMEOUT_SECONDS);
    String last = null;
    while (System.nanoTime() < deadline) {
      last = node.command(command);
      if (expected.equals(last)) {
        return;
      }
      Thread.sleep(200);
    }
    fail("node n" + node.index + " answered '" + last + "' to '" + command + "', not '" + expected + "'\n" + node.log());
  }

  /** A child JVM in its namespace, driven one line at a time. */
  private static final class Node {
    final int index;
    final Process process;
    final File log;
    final Writer in;
    final BlockingQueue<String> out = new LinkedBlockingQueue<>();
    String line;
    String nodeId;
    String advertised;

    Node(int index, Process process, File log) {
      this.index = index;
      this.process = process;
      this.log = log;
      this.in = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
      Thread reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          for (String l = r.readLine(); l != null; l = r.readLine()) {
            out.add(l);
          }
        } catch (IOException ignored) {
          // The process is gone: next() times out and says so.
        }
      }, "multi-host-n" + index);
      reader.setDaemon(true);
      reader.start();
    }

    void ready() throws Exception {
      line = next();
      assertTrue(line + "\n" + log(), line.startsWith("READY "));
      String[] words = line.split(" ");
      nodeId = words[1];
      advertised = words[2];
    }

    String command(String command) throws Exception {
      in.write(command + "\n");
      in.flush();
      return next();
    }

    private String next() throws Exception {
      String l = out.poll(Clusters.TIMEOUT_SECONDS, TimeUnit.SECONDS);
      if (l == null) {
        fail("node n" + index + " said nothing for " + Clusters.TIMEOUT_SECONDS + " s\n" + log());
      }
      return l;
    }

    String log() {
      try {
        List<String> lines = Files.readAllLines(log.toPath(), StandardCharsets.UTF_8);
        return "--- n" + index + " log ---\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
      } catch (IOException e) {
        return "(no log: " + e + ")";
      }
    }
  }

  private static String namespace(int i) {
    return PREFIX + "-" + i;
  }

  private static String hostSide(int i) {
    return PREFIX + "h" + i;
  }

  private static String ip(int i) {
    return "10.231." + NET + "." + (10 + i);
  }

  /** Null when this process can create network namespaces, else why not. */
  private static String cannotCreateNamespaces() {
    if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
      return "network namespaces are Linux only";
    }
    String probe = PREFIX + "-probe";
    try {
      Process p = new ProcessBuilder("ip", "netns", "add", probe).redirectErrorStream(true).start();
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
        return "'ip netns add' failed (needs root or CAP_SYS_ADMIN): " + output;
      }
      shQuietly("ip", "netns", "del", probe);
      return null;
    } catch (IOException e) {
      return "the 'ip' command is not available: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  private static String hostname() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "localhost";
    }
  }

  private static void sh(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
    }
  }

  private static void shQuietly(String... command) {
    try {
      sh(command);
    } catch (Exception ignored) {
      // Cleanup: what is already gone stays gone.
    }
  }
}
