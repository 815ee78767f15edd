package org.elasticsearch.xpack.security;

import java.util.List;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.elasticsearch.common.settings.Settings;

/**
 * x-pack security 9.1 for a node whose plugins come from the classpath (scripts/elasticsearch, ES_VERSION=9
 * ES_SECURITY=1); the Elasticsearch 8 build has the same class, where ActionHandler is still generic.
 *
 * Maven Central lacks OpenSAML and Elastic's patched JOSE library, so the SAML (and any other) transport actions
 * whose classes cannot link are left out; Guice would otherwise fail the whole node with NoClassDefFoundError.
 * Everything else (native users and roles, API keys, HTTPS, transport TLS) is the real security plugin.
 *
 * It sits in Elasticsearch's security package because Elasticsearch lets only classes under
 * org.elasticsearch.xpack install the REST interceptor that authenticates requests.
 */
public class ClasspathSecurity extends Security {
    private static final Logger logger = LogManager.getLogger(ClasspathSecurity.class);

    public ClasspathSecurity(Settings settings) {
        super(settings);
    }

    @Override
    public List<ActionHandler> getActions() {
        return super.getActions().stream().filter(handler -> {
            Class<?> transportAction = handler.getTransportAction();
            if (links(transportAction)) {
                return true;
            }
            logger.debug("leaving out action [{}]: [{}] cannot link", handler.getAction().name(), transportAction.getName());
            return false;
        }).toList();
    }

    /** Whether the class, its initialisation and the types its members name can all be loaded. */
    static boolean links(Class<?> type) {
        try {
            Class.forName(type.getName(), true, type.getClassLoader());
            type.getDeclaredConstructors();
            type.getDeclaredFields();
            type.getDeclaredMethods();
            return true;
        } catch (LinkageError | ClassNotFoundException e) {
            return false;
        }
    }
}
