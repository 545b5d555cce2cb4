package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Vertx;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.spi.cluster.bop.BopClusterManager;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * One node of {@link MultiHostTest}, run in a child JVM inside a network namespace, configured
 * by system properties only ({@code vertx.bop.*}), as an operator would configure it. It answers
 * on the event-bus address {@code host.<name>} with its node id and the host its event bus
 * advertises, prints {@code READY <nodeId> <advertised address>}, then runs one command per input
 * line and prints one line per command: {@code members}, {@code ask <name>}, {@code put <k> <v>},
 * {@code get <k>}.
 */
public final class MultiHostNode {

  private MultiHostNode() {
  }

  public static void main(String[] args) throws Exception {
    String name = args[0];
    BopClusterManager manager = new BopClusterManager();
    Vertx vertx = Vertx.builder().withClusterManager(manager).buildClustered().await();
    vertx.eventBus().<String>consumer("host." + name, message ->
      message.reply(manager.getNodeId() + " " + manager.clusterPublicHost())).completion().await();
    AsyncMap<String, String> map = vertx.sharedData().<String, String>getAsyncMap("multi-host").await();
    System.out.println("READY " + manager.getNodeId() + " " + manager.node().address());
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      String[] words = line.split(" ");
      try {
        switch (words[0]) {
          case "members":
            System.out.println("MEMBERS " + manager.getNodes().size());
            break;
          case "ask":
            System.out.println("ANSWER " + vertx.eventBus().<String>request("host." + words[1], "").await().body());
            break;
          case "put":
            map.put(words[1], words[2]).await();
            System.out.println("OK");
            break;
          case "get":
            System.out.println("VALUE " + map.get(words[1]).await());
            break;
          default:
            System.out.println("FAILED unknown command " + line);
        }
      } catch (Exception e) {
        System.out.println("FAILED " + String.valueOf(e.getMessage()).replace('\n', ' '));
      }
    }
    vertx.close().await();
    System.exit(0);
  }
}
