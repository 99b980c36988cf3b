-- CreateTable
CREATE TABLE "Note" ("id" SERIAL NOT NULL, "text" TEXT NOT NULL);
