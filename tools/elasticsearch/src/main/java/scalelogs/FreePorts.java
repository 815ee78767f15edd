package scalelogs;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * Prints N distinct TCP ports that are free on 127.0.0.1 right now, one a line (all held open until all are
 * chosen, so they differ). scripts/elasticsearch stores them so a cluster keeps its ports across restarts.
 */
public final class FreePorts {
    public static void main(String[] args) throws Exception {
        int count = Integer.parseInt(args[0]);
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                held.add(new ServerSocket(0, 1, InetAddress.getLoopbackAddress()));
            }
            for (ServerSocket socket : held) {
                System.out.println(socket.getLocalPort());
            }
        } finally {
            for (ServerSocket socket : held) {
                socket.close();
            }
        }
    }
}
