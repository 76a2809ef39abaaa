/* linux-init: /init of the initramfs linux-boot.sh builds. Proves a stock
 * Linux reached userspace under ward-hv: prints the marker on the console,
 * then stops the VM through the debug-exit port (value 0). */
#include <fcntl.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	static const char msg[] = "WARD-LINUX-BOOT-OK\n";
	int fd;

	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_WRONLY);
	if (fd < 0)
		fd = open("/dev/ttyS0", O_WRONLY);
	if (fd >= 0)
		(void)!write(fd, msg, strlen(msg));
	sync();
	if (iopl(3) == 0)
		outb(0, 0xf4);
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
