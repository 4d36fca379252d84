/** A tiny 16-bit real-mode assembler: enough for a guest to read/write memory and report via port I/O. */

/** Builds real-mode machine code; every method appends instructions and returns this. */
export class GuestProgram {
  private readonly code: number[] = [];
  private imm16(v: number): void {
    this.code.push(v & 0xff, (v >> 8) & 0xff);
  }
  /** mov ax, imm16; mov ds, ax — selects the 64 KiB data segment at seg*16. */
  setDs(seg: number): this {
    this.code.push(0xb8); this.imm16(seg);
    this.code.push(0x8e, 0xd8);
    return this;
  }
  /** mov al, imm8. */
  movAlImm(v: number): this {
    this.code.push(0xb0, v & 0xff);
    return this;
  }
  /** mov al, [ds:addr]. */
  loadAl(addr: number): this {
    this.code.push(0xa0); this.imm16(addr);
    return this;
  }
  /** mov [ds:addr], al. */
  storeAl(addr: number): this {
    this.code.push(0xa2); this.imm16(addr);
    return this;
  }
  /** mov byte [ds:addr], imm8. */
  storeByte(addr: number, v: number): this {
    this.code.push(0xc6, 0x06); this.imm16(addr); this.code.push(v & 0xff);
    return this;
  }
  /** inc byte [ds:addr]. */
  incByte(addr: number): this {
    this.code.push(0xfe, 0x06); this.imm16(addr);
    return this;
  }
  /** out imm8, al — reports AL to the host as a KVM_EXIT_IO on that port. */
  outAl(port: number): this {
    this.code.push(0xe6, port & 0xff);
    return this;
  }
  /** mov al, [ds:addr]; out port, al — reports a guest byte to the host. */
  reportByte(addr: number, port: number): this {
    return this.loadAl(addr).outAl(port);
  }
  /** mov al, imm8; out port, al — reports a constant (a checkpoint). */
  reportImm(v: number, port: number): this {
    return this.movAlImm(v).outAl(port);
  }
  /**
   * mov eax, nr; mov ebx, a0; mov ecx, a1; mov edx, a2; vmcall — a KVM hypercall (KVM_HC_*) with up to
   * three arguments, truncated to 32 bits as KVM does outside long mode. The result comes back in EAX
   * (outAl reports its low byte). KVM patches vmcall to vmmcall on AMD.
   */
  hypercall(nr: number, a0 = 0, a1 = 0, a2 = 0): this {
    for (const [op, v] of [[0xb8, nr], [0xbb, a0], [0xb9, a1], [0xba, a2]] as const) {
      this.code.push(0x66, op);
      this.imm16(v & 0xffff);
      this.imm16((v >>> 16) & 0xffff);
    }
    this.code.push(0x0f, 0x01, 0xc1);
    return this;
  }
  /** hlt. */
  hlt(): this {
    this.code.push(0xf4);
    return this;
  }
  /** jmp $ — spins forever (for tests that need a guest that never exits by itself). */
  spin(): this {
    this.code.push(0xeb, 0xfe);
    return this;
  }
  /** The assembled bytes. */
  bytes(): Buffer {
    return Buffer.from(this.code);
  }
}
