/* checkpoint: C2SP tlog-checkpoint signed notes for the audit log (being
 * written; src/lib/meson.build already lists this file). */
